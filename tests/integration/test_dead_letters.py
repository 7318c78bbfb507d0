"""The dead-letter rule on the real broker and store, with the real retention service."""

from __future__ import annotations

import asyncio
import base64
import os
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from pymongo.errors import NetworkTimeout, ServerSelectionTimeoutError

from contracts import interaction_records
from contracts.base import topic_name
from contracts.dead_letters import DeadLetter
from contracts.interaction_records import InteractionCompleted
from services.ops import dlq_cli
from services.retention.adapters.mongo_records import MongoRecordStore
from services.retention.adapters.mongo_region import MongoRegionStore
from services.retention.app import create_app
from services.retention.model import StoredRecords
from services.retention.settings import RetentionSettings
from tests.contract.suite import ENVELOPE
from tests.integration.kafka_tools import read_topic

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


def settings_for(region: str, infra) -> RetentionSettings:
    return RetentionSettings(region=region, kafka_bootstrap=infra.kafka, mongo_uri=infra.mongo,
                             platform_key=base64.b64encode(os.urandom(32)).decode())


def interaction(region: str, request_id: str) -> InteractionCompleted:
    return InteractionCompleted(**{**ENVELOPE, "region": region, "request_id": request_id},
                                completed_at=datetime.now(UTC), status=200, content_logging=False)


async def publish_raw(bootstrap: str, topic: str, *values: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=b"contoso", headers=[("origin", b"test")])
    finally:
        await producer.stop()


async def wait_for_record(infra, settings: RetentionSettings, request_id: str) -> dict[str, Any]:
    client: AsyncMongoClient = AsyncMongoClient(infra.mongo)
    try:
        async with asyncio.timeout(20):
            while True:
                found = await client[settings.database_name]["records"].find_one({"request_id": request_id})
                if found:
                    return found
                await asyncio.sleep(0.2)
    finally:
        await client.close()


async def test_a_malformed_message_is_dead_lettered_and_the_partition_moves_on(infra, region) -> None:
    settings = settings_for(region, infra)
    source = topic_name(interaction_records.TOPIC, region)
    poison = b'{"request_id": "not a full record"}'
    await publish_raw(infra.kafka, source, poison, interaction(region, "after-the-poison").model_dump_json().encode())
    async with create_app(settings):
        await wait_for_record(infra, settings, "after-the-poison")
        letters = await read_topic(infra.kafka, source + ".dlq", until=lambda r: len(r) >= 1)
    assert len(letters) == 1
    letter = letters[0]
    headers = {k: v.decode() for k, v in letter.headers}
    meta = DeadLetter.from_headers(headers)
    assert (letter.value, letter.key, headers["origin"]) == (poison, b"contoso", "test")
    assert (meta.source_topic, meta.consumer, meta.error_type) == (source, "retention", "ValidationError")
    assert "not a full record" not in meta.error, "error text must not quote message content"

    assert await dlq_cli.inspect(infra.kafka, source + ".dlq") == 1
    assert await dlq_cli.replay(infra.kafka, source + ".dlq") == 1
    assert await dlq_cli.replay(infra.kafka, source + ".dlq") == 0, "a second replay sends nothing twice"
    replayed = await read_topic(infra.kafka, source, until=lambda r: len(r) >= 3)
    assert [r.value for r in replayed].count(poison) == 2
    assert all(not k.startswith("dlq-") for k, _ in replayed[-1].headers)


class FlakyRecords:
    """The real record adapter behind a store that fails the first writes with pymongo's own errors."""

    def __init__(self, real: MongoRecordStore, *outages: Exception) -> None:
        self.real = real
        self.outages = list(outages)
        self.attempts = 0

    async def put_records(self, records: list[dict[str, Any]]) -> StoredRecords:
        self.attempts += 1
        if self.outages:
            raise self.outages.pop(0)
        return await self.real.put_records(records)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


async def test_an_unavailable_store_is_retried_never_dead_lettered(infra, region) -> None:
    settings = settings_for(region, infra)
    region_store = MongoRegionStore(infra.mongo, settings.database_name)
    store = FlakyRecords(region_store.records, ServerSelectionTimeoutError("127.0.0.1:1: Connection refused"),
                         NetworkTimeout("127.0.0.1:1: timed out"))
    source = topic_name(interaction_records.TOPIC, region)
    await publish_raw(infra.kafka, source, interaction(region, "survives-outage").model_dump_json().encode())
    try:
        async with create_app(settings, store=store):
            await wait_for_record(infra, settings, "survives-outage")
    finally:
        await region_store.close()
    assert store.attempts == 3
    assert await read_topic(infra.kafka, source + ".dlq") == []


async def test_a_dead_lettered_request_answers_its_caller_at_once(infra, region) -> None:
    """A body no consumer can parse still names its caller in its headers: the filter dead-letters
    it and the caller's replica gets a 500 naming the request, instead of a 60 s time-out."""
    from contracts import gateway_replies, prompt_submissions
    from contracts.gateway_replies import RequestFailed
    from services.filter.app import create_app as create_filter
    from services.filter.settings import FilterSettings

    source = topic_name(prompt_submissions.TOPIC, region)
    headers = [("residency-request-id", b"req-poison-0001"), ("residency-resource-id", b"contoso"),
               ("residency-deployment", b"chat"), ("residency-reply-to", b"replica-7")]
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(source, b'{"truncated": ', key=b"contoso", headers=headers)
        await producer.send_and_wait(source, b"\x00 no headers", key=b"contoso")
    finally:
        await producer.stop()
    async with create_filter(FilterSettings(region=region, kafka_bootstrap=infra.kafka, policy_store="static")):
        letters = await read_topic(infra.kafka, source + ".dlq", until=lambda r: len(r) >= 2)
        replies = await read_topic(infra.kafka, topic_name(gateway_replies.TOPIC, region), until=lambda r: len(r) >= 1)
    assert len(letters) == 2
    [reply] = replies
    assert dict(reply.headers)[gateway_replies.REPLY_TO_HEADER] == b"replica-7"
    failed = RequestFailed.model_validate_json(reply.value)
    assert (failed.request_id, failed.resource_id, failed.reply_to, failed.region) == (
        "req-poison-0001", "contoso", "replica-7", region)
    assert (failed.error.status, failed.error.code) == (500, "internal_error")
    assert "req-poison-0001" in failed.error.message


async def test_a_record_the_store_refuses_is_dead_lettered_alone(infra, region) -> None:
    settings = settings_for(region, infra)
    source = topic_name(interaction_records.TOPIC, region)
    # FerretDB refuses a field name with a dot, wherever it sits; the contract allows any name.
    refused = interaction(region, "refused-by-store").model_copy(
        update={"prompt_filter_results": [{"hate.v2": {"filtered": False, "severity": "safe"}}]})
    values = [interaction(region, "stored-before").model_dump_json().encode(), refused.model_dump_json().encode(),
              interaction(region, "stored-after").model_dump_json().encode()]
    await publish_raw(infra.kafka, source, *values)  # before the service starts: one batch
    async with create_app(settings):
        for request_id in ("stored-before", "stored-after"):
            await wait_for_record(infra, settings, request_id)
        letters = await read_topic(infra.kafka, source + ".dlq", until=lambda r: len(r) >= 1)
    assert [(r.value, dict(r.headers)["dlq-error-type"]) for r in letters] == [(values[1], b"RecordRefused")]
