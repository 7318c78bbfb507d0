"""The in-flight window: concurrency up to its limit, commits only up to the first unfinished offset,
an outage delivers the message again, anything else is dead-lettered."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiokafka import TopicPartition
from aiokafka.errors import KafkaTimeoutError

from contracts.generation_events import CompletionGenerated
from contracts.generation_requests import GenerateCompletion
from services.inference.adapters.echo_engine import EchoEngine
from services.inference.handlers import InferencePorts, generate_completion
from services.runtime.inflight import InFlightWindow
from tests.unit.builders import MODEL, chat, envelope, sampling

TOPIC = "eu-west.inference.generation-requests.v1"


@dataclass
class Record:
    """The fields of an aiokafka ConsumerRecord that the window and dead-lettering read."""

    topic: str
    partition: int
    offset: int
    value: bytes = b"{}"
    key: bytes = b"contoso"
    headers: tuple = ()


@dataclass
class FakeConsumer:
    """What the window uses of aiokafka's consumer: commit explicit offsets, seek a partition."""

    commits: list[tuple[int, int]] = field(default_factory=list)
    seeks: list[tuple[int, int]] = field(default_factory=list)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        for tp, offset in offsets.items():
            self.commits.append((tp.partition, offset))

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks.append((partition.partition, offset))


@dataclass
class Message:
    raw_message: Record
    consumer: FakeConsumer


@dataclass
class DeadLetters:
    """Records what the window dead-letters; ``fail_with`` makes the DLQ publish fail."""

    records: list[tuple[int, int, str]] = field(default_factory=list)
    fail_with: Exception | None = None

    async def __call__(self, record: Record, error: BaseException) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.records.append((record.partition, record.offset, type(error).__name__))


def message(consumer: FakeConsumer, offset: int, partition: int = 0) -> Message:
    return Message(Record(TOPIC, partition, offset), consumer)


def window(limit: int, dead_letters: DeadLetters | None = None) -> InFlightWindow:
    return InFlightWindow(limit, dead_letter=dead_letters or DeadLetters(), retry_pause_s=0)


async def test_offsets_are_committed_only_up_to_the_first_unfinished_work():
    consumer, inflight = FakeConsumer(), window(limit=8)
    gates = {offset: asyncio.Event() for offset in range(3)}

    async def work(offset: int) -> None:
        await gates[offset].wait()

    for offset in range(3):
        await inflight.submit(message(consumer, offset), work(offset), key=f"req-{offset}")
    gates[2].set()
    gates[1].set()
    await asyncio.sleep(0.01)
    assert consumer.commits == [], "offsets 1 and 2 finished, but 0 did not: nothing may be committed past it"
    gates[0].set()
    await inflight.drain()
    assert consumer.commits[-1] == (0, 3)


async def test_a_full_window_makes_submit_wait():
    consumer, inflight = FakeConsumer(), window(limit=2)
    release = asyncio.Event()

    async def work() -> None:
        await release.wait()

    await inflight.submit(message(consumer, 0), work(), key="a")
    await inflight.submit(message(consumer, 1), work(), key="b")
    third = asyncio.create_task(inflight.submit(message(consumer, 2), work(), key="c"))
    await asyncio.sleep(0.01)
    assert not third.done() and inflight.in_flight == 2
    release.set()
    await third
    await inflight.drain()
    assert inflight.in_flight == 0 and consumer.commits[-1] == (0, 3)


async def test_a_request_delivered_again_is_not_run_twice():
    consumer, inflight = FakeConsumer(), window(limit=4)
    runs: list[str] = []

    async def work(name: str) -> None:
        runs.append(name)

    await inflight.submit(message(consumer, 0), work("first"), key="req-1")
    await inflight.drain()
    await inflight.submit(message(consumer, 0), work("again"), key="req-1")  # e.g. after a rebalance
    await inflight.drain()
    assert runs == ["first"]
    assert consumer.commits[-1] == (0, 1)


class BrokerDownOnce:
    """The generation-events publisher while Kafka is unreachable: the real client's timeout,
    once for the final event of each request named, then the broker is back."""

    def __init__(self, *request_ids: str) -> None:
        self.down_for = set(request_ids)
        self.published: list[CompletionGenerated] = []

    async def publish(self, event: CompletionGenerated) -> None:
        if event.final and event.request_id in self.down_for:
            self.down_for.discard(event.request_id)
            raise KafkaTimeoutError()
        self.published.append(event)


def generation(request_id: str) -> GenerateCompletion:
    return GenerateCompletion(**{**envelope(), "request_id": request_id}, model=MODEL,
                              messages=chat(("user", "hello there")), sampling=sampling())


async def test_an_outage_while_publishing_the_result_commits_nothing_and_delivers_the_request_again():
    consumer, dead_letters = FakeConsumer(), DeadLetters()
    inflight = window(limit=4, dead_letters=dead_letters)
    events = BrokerDownOnce("req_lost-0000")
    ports = InferencePorts(engine=EchoEngine([MODEL]), events=events)

    await inflight.submit(message(consumer, 0), generate_completion(generation("req_lost-0000"), ports),
                          key="req_lost-0000")
    await inflight.submit(message(consumer, 1), generate_completion(generation("req_next-0001"), ports),
                          key="req_next-0001")
    await inflight.drain()

    assert consumer.commits == [], "the result of offset 0 was never published: nothing may be committed"
    assert consumer.seeks == [(0, 0)], "the consumer must be sent back to the unpublished request"
    assert dead_letters.records == [], "an outage is retried, never dead-lettered"
    assert [e.request_id for e in events.published] == ["req_next-0001"]

    # The consumer reads again from offset 0: the lost request runs again, the finished one does not.
    for offset, request_id in enumerate(["req_lost-0000", "req_next-0001"]):
        await inflight.submit(message(consumer, offset), generate_completion(generation(request_id), ports),
                              key=request_id)
    await inflight.drain()

    assert [e.request_id for e in events.published] == ["req_next-0001", "req_lost-0000"]
    assert consumer.commits == [(0, 2)]


async def test_a_message_delivered_again_while_its_work_runs_keeps_the_commit_behind_it():
    consumer, inflight = FakeConsumer(), window(limit=4)
    gates = {offset: asyncio.Event() for offset in range(2)}

    async def work(offset: int) -> None:
        await gates[offset].wait()

    for offset in range(2):
        await inflight.submit(message(consumer, offset), work(offset), key=f"req-{offset}")
    await inflight.submit(message(consumer, 0), work(0), key="req-0")  # after a seek back, say
    gates[1].set()
    await asyncio.sleep(0.01)
    assert consumer.commits == [], "offset 0 still runs: nothing may be committed past it"
    gates[0].set()
    await inflight.drain()
    assert consumer.commits == [(0, 2)]


async def test_two_outages_on_one_partition_send_the_consumer_back_to_the_first():
    consumer, inflight = FakeConsumer(), window(limit=4)

    async def broker_down() -> None:
        raise KafkaTimeoutError()

    await inflight.submit(message(consumer, 3), broker_down(), key="req-3")
    await inflight.submit(message(consumer, 4), broker_down(), key="req-4")
    await inflight.drain()
    assert consumer.commits == [] and consumer.seeks and {o for _, o in consumer.seeks} == {3}


async def test_a_failing_work_is_dead_lettered_and_the_partition_moves_on():
    consumer, dead_letters = FakeConsumer(), DeadLetters()
    inflight = window(limit=4, dead_letters=dead_letters)
    blocked = asyncio.Event()

    async def slow() -> None:
        await blocked.wait()

    async def broken() -> None:
        raise RuntimeError("a bug")

    await inflight.submit(message(consumer, 5, partition=0), slow(), key="p0")
    await inflight.submit(message(consumer, 7, partition=1), broken(), key="p1")
    await asyncio.sleep(0.01)
    assert dead_letters.records == [(1, 7, "RuntimeError")]
    assert consumer.commits == [(1, 8)] and consumer.seeks == []
    blocked.set()
    await inflight.drain()
    assert consumer.commits[-1] == (0, 6)


async def test_a_dead_letter_that_cannot_be_published_leaves_the_offset_uncommitted():
    consumer = FakeConsumer()
    inflight = window(limit=4, dead_letters=DeadLetters(fail_with=KafkaTimeoutError()))

    async def broken() -> None:
        raise RuntimeError("a bug")

    await inflight.submit(message(consumer, 7, partition=1), broken(), key="p1")
    await inflight.drain()
    assert consumer.commits == [] and consumer.seeks == [(1, 7)]


async def test_a_dead_lettered_request_replayed_later_runs_again():
    consumer, inflight = FakeConsumer(), window(limit=4)
    runs: list[int] = []

    async def work(offset: int) -> None:
        runs.append(offset)
        if offset == 0:
            raise RuntimeError("a bug")

    await inflight.submit(message(consumer, 0), work(0), key="req-1")
    await inflight.drain()
    await inflight.submit(message(consumer, 9), work(9), key="req-1")  # `just dlq replay` after a fix
    await inflight.drain()
    assert runs == [0, 9] and consumer.commits[-1] == (0, 10)


async def test_a_work_cancelled_at_shutdown_leaves_its_offset_uncommitted():
    consumer, inflight = FakeConsumer(), window(limit=4)

    async def cancelled() -> None:
        raise asyncio.CancelledError()

    await inflight.submit(message(consumer, 0), cancelled(), key="req-0")
    await inflight.drain()
    assert consumer.commits == [], "a work that did not finish must be delivered again after the restart"


async def test_on_shutdown_a_closed_window_takes_nothing_new_and_the_running_finish_and_commit():
    consumer, inflight = FakeConsumer(), window(limit=8)
    gate, ran = asyncio.Event(), []

    async def work(offset: int) -> None:
        await gate.wait()
        ran.append(offset)

    for offset in range(2):
        await inflight.submit(message(consumer, offset), work(offset), key=f"req-{offset}")
    inflight.close()  # SIGTERM
    await inflight.submit(message(consumer, 2), work(2), key="req-2")  # fetched during the drain
    draining = asyncio.create_task(inflight.drain(timeout_s=5))
    await asyncio.sleep(0.01)
    assert not draining.done(), "drain waits for the requests in flight"
    gate.set()
    assert await draining == 0
    assert sorted(ran) == [0, 1], "the message fetched after close is not run here"
    assert consumer.commits[-1] == (0, 2), "committed up to the message left for the next owner"


async def test_drain_gives_up_at_its_deadline_and_leaves_the_late_uncommitted():
    consumer, inflight = FakeConsumer(), window(limit=8)
    never = asyncio.Event()
    await inflight.submit(message(consumer, 0), never.wait(), key="req-0")
    inflight.close()
    assert await inflight.drain(timeout_s=0.05) == 1
    assert consumer.commits == []


@dataclass
class SlowCommits(FakeConsumer):
    """A broker whose commit takes a while: works finish while one is in flight."""

    in_flight: int = 0
    most_in_flight: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await self.release.wait()
        self.in_flight -= 1
        await super().commit(offsets)


async def test_works_finishing_during_a_commit_share_the_next_one():
    consumer, inflight = SlowCommits(), window(limit=8)

    async def work() -> None:
        await asyncio.sleep(0)

    for offset in range(6):
        await inflight.submit(message(consumer, offset), work(), key=f"req-{offset}")
    while consumer.in_flight == 0:
        await asyncio.sleep(0)
    for _ in range(20):  # every work finishes while the first commit waits
        await asyncio.sleep(0)
    consumer.release.set()
    await inflight.drain(timeout_s=1)
    assert consumer.most_in_flight == 1
    assert consumer.commits[-1] == (0, 6)  # everything, in the end
    assert len(consumer.commits) == 2  # the first work's commit, then one for the five others
