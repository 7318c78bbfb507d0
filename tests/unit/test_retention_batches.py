"""The subscriber's batch rule with fakes: a poison record is dead-lettered alone, the rest stored;
an outage fails the whole batch so it comes again."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pytest

from services.retention.app import store_batch
from services.runtime.errors import DependencyUnavailable
from tests.unit.builders import RESOURCE_ID
from tests.unit.retention_world import World, interaction


@dataclass
class Record:
    """The fields of an aiokafka ConsumerRecord that the batch handler and dead-lettering read."""

    value: bytes
    offset: int
    topic: str = "eu-west.retention.interactions.v1"
    partition: int = 0
    key: bytes = RESOURCE_ID.encode()
    headers: tuple = ()


class RecordingBroker:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes, dict[str, str]]] = []

    async def publish(self, value: bytes, topic: str, *, key: bytes, headers: dict[str, str]) -> None:
        self.published.append((topic, value, headers))


@dataclass
class Service:
    broker: Any
    ports: Any


def batch(*events: Any) -> tuple[Record, ...]:
    return tuple(Record(e if isinstance(e, bytes) else e.model_dump_json().encode(), offset=i)
                 for i, e in enumerate(events))


async def test_poison_and_foreign_records_are_dead_lettered_alone_and_the_rest_is_stored():
    world, broker = World(), RecordingBroker()
    records = batch(interaction(request_id="req_good-0001"), b'{"request_id": "half a record"}',
                    interaction(request_id="req_foreign-01", region="us-east"), interaction(request_id="req_good-0002"))

    await store_batch(records, Service(broker, world.ports))  # type: ignore[arg-type]

    assert sorted(rid for _, rid in world.records.records) == ["req_good-0001", "req_good-0002"]
    assert [(t, h["dlq-source-offset"], h["dlq-error-type"]) for t, _, h in broker.published] == [
        ("eu-west.retention.interactions.v1.dlq", "1", "ValidationError"),
        ("eu-west.retention.interactions.v1.dlq", "2", "WrongRegion")]
    assert broker.published[0][1] == records[1].value


class DownStore:
    async def put_records(self, records: Any) -> int:
        raise DependencyUnavailable("store down")


async def test_an_unavailable_store_fails_the_whole_batch_so_it_is_delivered_again():
    world, broker = World(), RecordingBroker()
    ports = dataclasses.replace(world.ports, records=DownStore())
    with pytest.raises(DependencyUnavailable):
        await store_batch(batch(interaction()), Service(broker, ports))  # type: ignore[arg-type]
    assert broker.published == []
