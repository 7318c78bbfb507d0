"""Many messages of one partition in flight at once, committed only in order.

A group subscriber handles one message at a time; the inference engine batches only what it is
given concurrently. ``InFlightWindow`` lets a handler hand its work to the window and return at
once: up to ``limit`` works run together, and when the window is full ``submit`` waits, so the
consumer stops fetching (back-pressure). Each partition's offset is committed only up to the
first message whose work has not finished — commit after publish still holds: a crash
re-delivers everything not yet finished, never skips it. A message whose key (the request ID) is
already running or finished recently is not run twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Coroutine
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

log = logging.getLogger("residency.inflight")
RECENT_KEYS = 10_000


class PartitionOffsets:
    """Offsets of one partition: which are still running, and how far it is safe to commit."""

    def __init__(self) -> None:
        self.running: set[int] = set()
        self.next_offset = 0  # one past the highest offset seen
        self.committed = -1  # never commit backwards when commits of two works interleave

    def start(self, offset: int) -> None:
        if self.committed < 0:
            self.committed = offset  # the group's position is already here: nothing to commit yet
        self.running.add(offset)
        self.next_offset = max(self.next_offset, offset + 1)

    def finish(self, offset: int) -> None:
        self.running.discard(offset)

    @property
    def safe_to_commit(self) -> int:
        """The first offset whose work has not finished (or one past the last seen)."""
        return min(self.running) if self.running else self.next_offset


class InFlightWindow:
    def __init__(self, limit: int) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._partitions: dict[TopicPartition, PartitionOffsets] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._keys_running: set[str] = set()
        self._keys_done: OrderedDict[str, None] = OrderedDict()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def submit(self, message: Any, work: Coroutine[Any, Any, None], *, key: str) -> None:
        """Run ``work`` for the Kafka ``message``; waits while the window is full."""
        record = message.raw_message
        partition = TopicPartition(record.topic, record.partition)
        offsets = self._partitions.setdefault(partition, PartitionOffsets())
        if key in self._keys_running or key in self._keys_done:
            work.close()
            log.info("request %s delivered again; not run twice", key)
            offsets.start(record.offset)
            offsets.finish(record.offset)
            await self._commit(message.consumer, partition, offsets)
            return
        await self._slots.acquire()
        offsets.start(record.offset)
        self._keys_running.add(key)
        task = asyncio.create_task(self._run(message, partition, record.offset, work, key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, message: Any, partition: TopicPartition, offset: int,
                   work: Coroutine[Any, Any, None], key: str) -> None:
        try:
            await work
        except Exception:  # the work reports its own errors; the window must go on
            log.exception("work for request %s failed", key)
        finally:
            self._keys_running.discard(key)
            self._keys_done[key] = None
            while len(self._keys_done) > RECENT_KEYS:
                self._keys_done.popitem(last=False)
            self._slots.release()
            offsets = self._partitions[partition]
            offsets.finish(offset)
            await self._commit(message.consumer, partition, offsets)

    @staticmethod
    async def _commit(consumer: Any, partition: TopicPartition, offsets: PartitionOffsets) -> None:
        offset = offsets.safe_to_commit
        if offset <= offsets.committed:
            return
        offsets.committed = offset
        try:
            await consumer.commit({partition: offset})
        except (CommitFailedError, KafkaError) as error:
            # The partition moved to another replica during a rebalance: it re-delivers from the
            # last committed offset, so nothing is lost (a request may then run twice, once per replica).
            log.warning("commit of %s@%d failed: %s", partition, offset, type(error).__name__)

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Let the works in flight finish (graceful shutdown)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)
