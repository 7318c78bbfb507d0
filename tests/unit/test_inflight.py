"""The in-flight window: concurrency up to its limit, commits only up to the first unfinished offset."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiokafka import TopicPartition

from services.runtime.inflight import InFlightWindow

TOPIC = "eu-west.inference.generation-requests.v1"


@dataclass
class Record:
    topic: str
    partition: int
    offset: int


@dataclass
class FakeConsumer:
    commits: list[tuple[int, int]] = field(default_factory=list)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        for tp, offset in offsets.items():
            self.commits.append((tp.partition, offset))


@dataclass
class Message:
    raw_message: Record
    consumer: FakeConsumer


def message(consumer: FakeConsumer, offset: int, partition: int = 0) -> Message:
    return Message(Record(TOPIC, partition, offset), consumer)


async def test_offsets_are_committed_only_up_to_the_first_unfinished_work():
    consumer, window = FakeConsumer(), InFlightWindow(limit=8)
    gates = {offset: asyncio.Event() for offset in range(3)}

    async def work(offset: int) -> None:
        await gates[offset].wait()

    for offset in range(3):
        await window.submit(message(consumer, offset), work(offset), key=f"req-{offset}")
    gates[2].set()
    gates[1].set()
    await asyncio.sleep(0.01)
    assert consumer.commits == [], "offsets 1 and 2 finished, but 0 did not: nothing may be committed past it"
    gates[0].set()
    await window.drain()
    assert consumer.commits[-1] == (0, 3)


async def test_a_full_window_makes_submit_wait():
    consumer, window = FakeConsumer(), InFlightWindow(limit=2)
    release = asyncio.Event()

    async def work() -> None:
        await release.wait()

    await window.submit(message(consumer, 0), work(), key="a")
    await window.submit(message(consumer, 1), work(), key="b")
    third = asyncio.create_task(window.submit(message(consumer, 2), work(), key="c"))
    await asyncio.sleep(0.01)
    assert not third.done() and window.in_flight == 2
    release.set()
    await third
    await window.drain()
    assert window.in_flight == 0 and consumer.commits[-1] == (0, 3)


async def test_a_request_delivered_again_is_not_run_twice():
    consumer, window = FakeConsumer(), InFlightWindow(limit=4)
    runs: list[str] = []

    async def work(name: str) -> None:
        runs.append(name)

    await window.submit(message(consumer, 0), work("first"), key="req-1")
    await window.drain()
    await window.submit(message(consumer, 0), work("again"), key="req-1")  # e.g. after a rebalance
    await window.drain()
    assert runs == ["first"]
    assert consumer.commits[-1] == (0, 1)


async def test_partitions_commit_independently_and_a_failed_work_still_moves_on():
    consumer, window = FakeConsumer(), InFlightWindow(limit=4)
    blocked = asyncio.Event()

    async def slow() -> None:
        await blocked.wait()

    async def broken() -> None:
        raise RuntimeError("engine said no")

    await window.submit(message(consumer, 5, partition=0), slow(), key="p0")
    await window.submit(message(consumer, 7, partition=1), broken(), key="p1")
    await asyncio.sleep(0.01)
    assert consumer.commits == [(1, 8)]
    blocked.set()
    await window.drain()
    assert consumer.commits[-1] == (0, 6)
