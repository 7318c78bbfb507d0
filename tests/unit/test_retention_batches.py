"""The subscriber's batch rule: a poison record is dead-lettered alone, the rest stored; an outage
fails the whole batch so it comes again. The store's failures are pymongo's own exceptions, raised
under the real MongoDB adapter."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import pytest
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import AutoReconnect, BulkWriteError, NetworkTimeout
from pymongo.results import InsertManyResult

from services.retention.adapters.mongo_records import MongoRecordStore
from services.retention.app import store_batch
from services.runtime.dead_letters import is_retryable
from tests.unit.builders import Record
from tests.unit.retention_world import World, interaction

TOPIC = "eu-west.retention.interactions.v1"


class RecordingBroker:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes, dict[str, str]]] = []

    async def publish(self, value: bytes, topic: str, *, key: bytes, headers: dict[str, str]) -> None:
        self.published.append((topic, value, headers))


@dataclass
class Service:
    broker: Any
    ports: Any
    stored: Any = None  # no interaction here asks to store its completion


def batch(*events: Any) -> tuple[Record, ...]:
    return tuple(Record(e if isinstance(e, bytes) else e.model_dump_json().encode(), offset=i, topic=TOPIC)
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


def bulk_write_error(*write_errors: tuple[int, int], n_inserted: int, write_concern_errors: int = 0) -> BulkWriteError:
    """pymongo's exception for an unordered insert_many, as FerretDB answers it (``(index, code)`` pairs)."""
    return BulkWriteError({
        "writeErrors": [{"index": i, "code": code, "errmsg": "refused", "op": {}} for i, code in write_errors],
        "writeConcernErrors": [{"code": 64, "errmsg": "waiting for replication timed out"}] * write_concern_errors,
        "nInserted": n_inserted, "nUpserted": 0, "nMatched": 0, "nModified": 0, "nRemoved": 0, "upserted": []})


class Database:
    """The two collections MongoRecordStore uses; ``records.insert_many`` does what the test says."""

    def __init__(self, records_insert: Any) -> None:
        self.collections = {name: MagicMock(spec=AsyncCollection) for name in ("records", "signals")}
        self.collections["records"].insert_many = AsyncMock(side_effect=records_insert)
        self.collections["signals"].insert_many = AsyncMock(return_value=InsertManyResult([], acknowledged=True))

    def __getitem__(self, name: str) -> Any:
        return self.collections[name]


def on_mongo(world: World, records_insert: Any) -> Any:
    return dataclasses.replace(world.ports, records=MongoRecordStore(Database(records_insert)))  # type: ignore[arg-type]


async def test_a_record_the_store_refuses_is_dead_lettered_alone_and_the_rest_is_stored():
    world, broker = World(), RecordingBroker()
    # FerretDB refuses a field name with a dot (code 2, BadValue); the other two are inserted.
    ports = on_mongo(world, bulk_write_error((1, 2), n_inserted=2))
    records = batch(interaction(request_id="req_good-0001"), interaction(request_id="req_refused-01"),
                    interaction(request_id="req_good-0002"))

    await store_batch(records, Service(broker, ports))  # type: ignore[arg-type]

    assert [(t, h["dlq-source-offset"], h["dlq-error-type"]) for t, _, h in broker.published] == [
        ("eu-west.retention.interactions.v1.dlq", "1", "RecordRefused")]
    assert broker.published[0][1] == records[1].value


async def test_a_duplicate_in_the_batch_is_stored_once_and_dead_letters_nothing():
    world, broker = World(), RecordingBroker()
    ports = on_mongo(world, bulk_write_error((0, 11000), n_inserted=1))
    await store_batch(batch(interaction(request_id="req_again-0001"), interaction(request_id="req_new-00001")),
                      Service(broker, ports))  # type: ignore[arg-type]
    assert broker.published == []


@pytest.mark.parametrize("outage", [
    AutoReconnect("connection reset by peer"),
    NetworkTimeout("timed out"),
    bulk_write_error((0, 91), n_inserted=0),  # ShutdownInProgress
    bulk_write_error((0, 11000), n_inserted=0, write_concern_errors=1),  # not durable: store again
], ids=["AutoReconnect", "NetworkTimeout", "ShutdownInProgress", "WriteConcernError"])
async def test_a_store_that_cannot_take_the_write_now_fails_the_whole_batch_so_it_comes_again(outage):
    world, broker = World(), RecordingBroker()
    ports = on_mongo(world, outage)
    with pytest.raises(Exception) as raised:
        await store_batch(batch(interaction(), interaction(request_id="req_other-0001")),
                          Service(broker, ports))  # type: ignore[arg-type]
    assert is_retryable(raised.value), f"{type(raised.value).__name__} would be dead-lettered"
    assert broker.published == []
