"""Many messages of one partition in flight at once, committed only in order.

A group subscriber handles one message at a time; the inference engine batches only what it is
given concurrently. ``InFlightWindow`` lets a handler hand its work to the window and return at
once: up to ``limit`` works run together, and when the window is full ``submit`` waits, so the
consumer stops fetching (back-pressure). Each partition's offset is committed only up to the
first message whose work has not finished — commit after publish still holds: a crash
re-delivers everything not yet finished, never skips it. A message whose key (the request ID) is
already running or finished recently is not run twice.

A work that raises follows the runtime's one dead-letter rule (services.runtime.dead_letters):

- an outage (``is_retryable``: the broker or a store unreachable, a time-out) leaves the offset
  uncommitted — later offsets may finish, the commit stays behind it — and after a pause seeks
  the consumer back to it, as FastStream's nack does for a plain subscriber. The later messages
  come again too and are skipped (running or settled offsets); the failed one runs again.
- anything else is dead-lettered, then its offset counts as finished. If the dead letter cannot
  be published, the message is treated as an outage: it comes again, never silently dropped.
- a cancelled work (shutdown) is left uncommitted: the next owner of the partition runs it.

Graceful shutdown (SIGTERM): ``close`` stops taking new messages (they stay uncommitted, for the
partition's next owner), then ``drain`` lets the works in flight finish, publish and commit
within the deadline, while the broker still runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from services.runtime.dead_letters import RETRY_PAUSE_S, is_retryable

log = logging.getLogger("residency.inflight")
RECENT_KEYS = 10_000
DeadLetter = Callable[[Any, BaseException], Awaitable[None]]  # (consumer record, error)


class PartitionOffsets:
    """Offsets of one partition: which are not finished, and how far it is safe to commit."""

    def __init__(self) -> None:
        self.pending: set[int] = set()  # running, or failed for an outage and waiting to come again
        self.retrying: set[int] = set()  # the failed ones: the consumer is sent back to the lowest
        self.first_offset = -1  # the first offset seen: the group's position when consuming began
        self.next_offset = 0  # one past the highest offset seen
        self.committed = -1  # never commit backwards when commits of two works interleave
        self.committing = False  # one commit in flight per partition; the works finishing meanwhile
        # leave theirs to it: it commits again, up to the then safe offset, before it stops

    def start(self, offset: int) -> None:
        if self.committed < 0:
            self.first_offset = self.committed = offset  # the group is already here: nothing to commit yet
        self.pending.add(offset)
        self.retrying.discard(offset)
        self.next_offset = max(self.next_offset, offset + 1)

    def finish(self, offset: int) -> None:
        self.pending.discard(offset)

    def seen(self, offset: int) -> bool:
        """Running, or finished (done or dead-lettered): this offset must not start again."""
        if offset in self.pending:
            return offset not in self.retrying
        return self.first_offset <= offset < self.next_offset

    @property
    def safe_to_commit(self) -> int:
        """The first offset whose work has not finished (or one past the last seen)."""
        return min(self.pending) if self.pending else self.next_offset


class InFlightWindow:
    def __init__(self, limit: int, *, dead_letter: DeadLetter, retry_pause_s: float = RETRY_PAUSE_S) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._dead_letter = dead_letter
        self._retry_pause_s = retry_pause_s
        self._partitions: dict[TopicPartition, PartitionOffsets] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._keys_running: set[str] = set()
        self._keys_done: OrderedDict[str, None] = OrderedDict()
        self._closed = False

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def submit(self, message: Any, work: Coroutine[Any, Any, None], *, key: str) -> None:
        """Run ``work`` for the Kafka ``message``; waits while the window is full."""
        if self._closed:
            work.close()  # shutting down: left uncommitted, the partition's next owner runs it
            return
        record = message.raw_message
        partition = TopicPartition(record.topic, record.partition)
        offsets = self._partitions.setdefault(partition, PartitionOffsets())
        if offsets.seen(record.offset):
            work.close()  # this very message again, after a seek back to an earlier one
            return
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
        offsets = self._partitions[partition]
        try:
            await work
        except asyncio.CancelledError:
            self._release(key, done=False)
            raise
        except Exception as error:  # noqa: BLE001 - sorted by the dead-letter rule below
            self._release(key, done=False)
            if is_retryable(error) or not await self._dead_lettered(message.raw_message, key, error):
                await self._deliver_again(message.consumer, partition, offsets, offset, key, error)
                return
        else:
            self._release(key, done=True)
        offsets.finish(offset)
        await self._commit(message.consumer, partition, offsets)

    def _release(self, key: str, *, done: bool) -> None:
        self._slots.release()
        self._keys_running.discard(key)
        if done:  # a failed or dead-lettered request may run again (redelivery, a DLQ replay)
            self._keys_done[key] = None
            while len(self._keys_done) > RECENT_KEYS:
                self._keys_done.popitem(last=False)

    async def _dead_lettered(self, record: Any, key: str, error: Exception) -> bool:
        try:
            await self._dead_letter(record, error)
        except Exception as failure:  # noqa: BLE001 - whatever it was, the message must come again
            log.warning("request %s could not be dead-lettered (%s)", key, type(failure).__name__)
            return False
        return True

    async def _deliver_again(self, consumer: Any, partition: TopicPartition, offsets: PartitionOffsets,
                             offset: int, key: str, error: Exception) -> None:
        log.warning("request %s at %s@%d failed (%s); delivering it again", key, partition, offset,
                    type(error).__name__)
        offsets.retrying.add(offset)
        await asyncio.sleep(self._retry_pause_s)
        if not offsets.retrying:
            return  # delivered again meanwhile (a rebalance brought the partition back)
        try:
            # To the lowest failed offset: a later failure must not seek past an earlier one.
            consumer.seek(partition, min(offsets.retrying))
        except IllegalStateError:
            # The partition moved to another replica: it starts from the committed offset,
            # which is not past this one.
            log.warning("%s moved to another consumer before %d came again", partition, offset)

    @staticmethod
    async def _commit(consumer: Any, partition: TopicPartition, offsets: PartitionOffsets) -> None:
        """Commit up to the safe offset. Under load many works finish while a commit is in flight:
        one commit then covers them all instead of one round trip to the broker each."""
        if offsets.committing:
            return  # the commit in flight looks again when it is done
        offsets.committing = True
        try:
            while (offset := offsets.safe_to_commit) > offsets.committed:
                offsets.committed = offset
                try:
                    await consumer.commit({partition: offset})
                except (CommitFailedError, KafkaError) as error:
                    # The partition moved to another replica during a rebalance: it re-delivers from
                    # the last committed offset, so nothing is lost (a request may then run twice,
                    # once per replica).
                    log.warning("commit of %s@%d failed: %s", partition, offset, type(error).__name__)
                    return
        finally:
            offsets.committing = False

    def close(self) -> None:
        """Take no new message: each is left uncommitted (graceful shutdown)."""
        self._closed = True

    async def drain(self, timeout_s: float = 30.0) -> int:
        """Let the works in flight finish, publish and commit; returns how many did not in time."""
        if self._tasks:
            log.info("draining %d requests in flight (at most %.0f s)", len(self._tasks), timeout_s)
            _, late = await asyncio.wait(set(self._tasks), timeout=timeout_s)
            if late:
                log.warning("%d requests still running after %.0f s: the next owner runs them again",
                            len(late), timeout_s)
            return len(late)
        return 0
