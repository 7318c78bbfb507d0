"""A batch's rule (services.runtime.batches): records handled in order, publishes not waited for
one by one but all before the batch returns (so the commit that follows is after every publish),
a poison record dead-lettered alone, an outage — in a handler or a missing acknowledgement —
fails the whole batch after telling which messages it had handled."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError

from contracts.generation_cancellations import TOPIC, CancelGeneration
from services.runtime.batches import AcknowledgementsMissing, handle_batch
from services.runtime.bus import TopicPublisher
from services.runtime.dead_letters import is_retryable
from services.runtime.errors import DependencyUnavailable
from tests.unit.builders import Record, envelope

SOURCE = "eu-west.filter.prompt-submissions.v1"


class FakeBroker:
    """Hands out publishers whose acknowledgements the test settles; records dead letters."""

    def __init__(self) -> None:
        self.acks: list[asyncio.Future[Any]] = []
        self.awaited_publishes = 0
        self.dead_letters: list[tuple[str, bytes]] = []

    def publisher(self, topic: str, **_: Any) -> FakeBroker:
        return self

    async def publish(self, message: Any, topic: str | None = None, *, key: bytes, headers: dict[str, str],
                      no_confirm: bool = False) -> Any:
        if topic is not None:  # broker.publish(value, topic, ...): a dead letter
            self.dead_letters.append((topic, message))
            return None
        ack = asyncio.get_running_loop().create_future()
        self.acks.append(ack)
        if no_confirm:
            return ack
        self.awaited_publishes += 1
        ack.set_result("metadata")
        return await ack


def cancellation(request_id: str) -> CancelGeneration:
    return CancelGeneration(**envelope(request_id=request_id), reason="content_filter")


def records(*messages: CancelGeneration | bytes) -> list[Record]:
    return [Record(m if isinstance(m, bytes) else m.model_dump_json().encode(), offset=i, topic=SOURCE)
            for i, m in enumerate(messages)]


def publisher_of(broker: FakeBroker) -> TopicPublisher:
    return TopicPublisher(broker, TOPIC, "eu-west")  # type: ignore[arg-type]


async def test_publishes_are_acknowledged_together_before_the_batch_returns():
    broker, seen = FakeBroker(), []
    topic = publisher_of(broker)

    async def handle(message: CancelGeneration) -> None:
        seen.append(message.request_id)
        await topic.publish(message)

    batch = asyncio.create_task(handle_batch(records(cancellation("req_aaaa"), cancellation("req_bbbb")),
                                             CancelGeneration, handle, broker=broker, service="filter"))
    while len(broker.acks) < 2:
        await asyncio.sleep(0)
    assert seen == ["req_aaaa", "req_bbbb"] and broker.awaited_publishes == 0
    await asyncio.sleep(0.01)
    assert not batch.done()  # the commit after it waits for the acknowledgements
    broker.acks[0].set_result("metadata")
    await asyncio.sleep(0.01)
    assert not batch.done()
    broker.acks[1].set_result("metadata")
    await asyncio.wait_for(batch, 1)


async def test_outside_a_batch_a_publish_waits_for_its_acknowledgement():
    broker = FakeBroker()
    await publisher_of(broker).publish(cancellation("req_aaaa"))
    assert broker.awaited_publishes == 1


async def test_a_poison_record_is_dead_lettered_alone_and_the_rest_handled_in_order():
    broker, seen = FakeBroker(), []

    async def handle(message: CancelGeneration) -> None:
        if message.request_id == "req_bugg":
            raise ValueError("a bug")
        seen.append(message.request_id)

    batch = records(cancellation("req_aaaa"), b'{"half": "a message"', cancellation("req_bugg"),
                    cancellation("req_cccc"))
    await handle_batch(batch, CancelGeneration, handle, broker=broker, service="filter")
    assert seen == ["req_aaaa", "req_cccc"]
    assert [value for _, value in broker.dead_letters] == [batch[1].value, batch[2].value]
    assert {topic for topic, _ in broker.dead_letters} == {"eu-west.filter.prompt-submissions.v1.dlq"}


async def test_an_outage_in_a_handler_fails_the_batch_after_naming_what_it_handled():
    broker, told = FakeBroker(), []
    topic = publisher_of(broker)

    async def handle(message: CancelGeneration) -> None:
        if message.request_id == "req_down":
            raise DependencyUnavailable("the policy store")
        await topic.publish(message)
        broker.acks[-1].set_result("metadata")

    with pytest.raises(DependencyUnavailable):
        await handle_batch(records(cancellation("req_aaaa"), cancellation("req_down"), cancellation("req_cccc")),
                           CancelGeneration, handle, broker=broker, service="filter",
                           on_outage=lambda handled: told.extend(m.request_id for m in handled))
    assert told == ["req_aaaa", "req_down"]
    assert broker.dead_letters == []  # an outage is retried, never dead-lettered


async def test_a_missing_acknowledgement_is_an_outage_of_the_whole_batch():
    broker, told = FakeBroker(), []
    topic = publisher_of(broker)

    async def handle(message: CancelGeneration) -> None:
        await topic.publish(message)

    batch = asyncio.create_task(handle_batch(
        records(cancellation("req_aaaa"), cancellation("req_bbbb")), CancelGeneration, handle, broker=broker,
        service="filter", on_outage=lambda handled: told.extend(m.request_id for m in handled)))
    while len(broker.acks) < 2:
        await asyncio.sleep(0)
    broker.acks[0].set_result("metadata")
    broker.acks[1].set_exception(KafkaTimeoutError())
    with pytest.raises(AcknowledgementsMissing) as raised:
        await batch
    assert is_retryable(raised.value)
    assert told == ["req_aaaa", "req_bbbb"]


class PollingConsumer:
    """aiokafka's getmany as the batch poll sees it: waits its time out when nothing comes, or not
    at all (``early``: no partitions assigned)."""

    def __init__(self, batches: list[dict[str, list[str]]], *, early: bool = False) -> None:
        self.batches, self.early = batches, early

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[str, list[str]]:
        if self.batches:
            return self.batches.pop(0)
        if not self.early:
            await asyncio.sleep(timeout_ms / 1000)
        return {}


async def test_an_empty_poll_that_waited_its_time_out_does_not_sleep_again():
    from faststream.kafka.subscriber.usecase import BatchSubscriber

    subscriber = type("Poll", (), {"batch_timeout_ms": 50, "max_records": 10})()
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert await BatchSubscriber.get_msg(subscriber, PollingConsumer([])) == ()  # type: ignore[arg-type]
    assert loop.time() - began < 0.09  # the poll's 50 ms, not 50 more asleep
    records = PollingConsumer([{"p0": ["a", "b"], "p1": ["c"]}])
    assert await BatchSubscriber.get_msg(subscriber, records) == ("a", "b", "c")  # type: ignore[arg-type]
    began = loop.time()
    assert await BatchSubscriber.get_msg(subscriber, PollingConsumer([], early=True)) == ()  # type: ignore[arg-type]
    assert loop.time() - began >= 0.045  # an early empty answer sleeps out the rest: no spinning
