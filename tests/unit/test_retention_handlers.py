"""Retention handler with the real platform cipher and an in-memory record store."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts.common import ChatMessage, Usage
from contracts.interaction_records import InteractionCompleted
from services.retention.adapters.platform_cipher import PlatformKeyCipher
from services.retention.errors import UnreadableRecord, WrongRegion
from services.retention.handlers import RetentionPorts, associated_data, document_to_sealed, store_interaction
from services.retention.ports import SealedContent
from tests.unit.builders import REGION, REQUEST_ID, RESOURCE_ID, chat, envelope

CANARY = "canary-7f3a9c1e-plaintext"
RETENTION = timedelta(days=30)
COMPLETED_AT = datetime(2025, 3, 14, 9, 27, 5, tzinfo=UTC)


class InMemoryRecordStore:
    """One record per (resource ID, request ID), like the unique index of the Mongo store."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], dict[str, Any]] = {}

    async def put_record(self, record: dict[str, Any]) -> bool:
        key = (record["resource_id"], record["request_id"])
        if key in self.records:
            return False
        self.records[key] = dict(record)
        return True

    async def get_record(self, resource_id: str, request_id: str) -> dict[str, Any] | None:
        return self.records.get((resource_id, request_id))


def retention_ports() -> tuple[RetentionPorts, InMemoryRecordStore, PlatformKeyCipher]:
    store, cipher = InMemoryRecordStore(), PlatformKeyCipher(os.urandom(32), key_id="platform-2025-03")
    return RetentionPorts(store=store, cipher=cipher, region=REGION, retention=RETENTION), store, cipher


def interaction(*, content_logging: bool = True, **overrides: Any) -> InteractionCompleted:
    fields: dict[str, Any] = dict(
        **envelope(), completed_at=COMPLETED_AT, status=200, end_user="user-42", content_logging=content_logging,
        messages=chat(("system", "Be brief."), ("user", f"My secret is {CANARY}")),
        completions=[f"Your secret is {CANARY}", "I will not repeat it."], finish_reasons=["stop", "stop"],
        prompt_filter_results=[{"hate": {"filtered": False, "severity": "safe"}}],
        citation_ids=["65f2a1b2c3d4e5f601234567"], usage=Usage(prompt_tokens=9, completion_tokens=12, total_tokens=21))
    fields.update(overrides)
    return InteractionCompleted(**fields)


def open_content(record: dict[str, Any], cipher: PlatformKeyCipher, resource_id: str, request_id: str) -> dict:
    return json.loads(cipher.open(document_to_sealed(record["content"]), associated_data(resource_id, request_id)))


async def test_content_is_stored_sealed_and_opens_to_the_original():
    ports, store, cipher = retention_ports()
    event = interaction()
    await store_interaction(event, ports)

    record = await store.get_record(RESOURCE_ID, REQUEST_ID)
    assert record is not None
    assert CANARY not in repr(record)
    assert CANARY.encode() not in bytes(record["content"]["ciphertext"])
    assert record["content"]["key_id"] == "platform-2025-03"
    content = open_content(record, cipher, RESOURCE_ID, REQUEST_ID)
    assert [ChatMessage(**m) for m in content["messages"]] == event.messages
    assert content["completions"] == event.completions


async def test_ids_and_metadata_are_kept_in_clear():
    ports, store, _ = retention_ports()
    await store_interaction(interaction(), ports)

    record = await store.get_record(RESOURCE_ID, REQUEST_ID)
    assert record is not None
    assert (record["region"], record["status"], record["finish_reasons"]) == (REGION, 200, ["stop", "stop"])
    assert record["citation_ids"] == ["65f2a1b2c3d4e5f601234567"]
    assert record["usage"] == {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}


@pytest.mark.parametrize(("resource_id", "request_id"), [
    (RESOURCE_ID, "req_0002-other"),
    ("fabrikam-eu", REQUEST_ID),
])
async def test_content_does_not_open_for_another_request_or_resource(resource_id: str, request_id: str):
    ports, store, cipher = retention_ports()
    await store_interaction(interaction(), ports)

    record = await store.get_record(RESOURCE_ID, REQUEST_ID)
    assert record is not None
    with pytest.raises(UnreadableRecord):
        open_content(record, cipher, resource_id, request_id)


async def test_altered_ciphertext_does_not_open():
    ports, store, cipher = retention_ports()
    await store_interaction(interaction(), ports)

    record = await store.get_record(RESOURCE_ID, REQUEST_ID)
    assert record is not None
    sealed = document_to_sealed(record["content"])
    flipped = bytearray(sealed.ciphertext)
    flipped[len(flipped) // 2] ^= 0x01
    with pytest.raises(UnreadableRecord):
        cipher.open(SealedContent(sealed.key_id, sealed.nonce, bytes(flipped)),
                    associated_data(RESOURCE_ID, REQUEST_ID))


async def test_content_logging_off_stores_no_content_even_if_the_event_carries_some():
    ports, store, _ = retention_ports()
    await store_interaction(interaction(content_logging=False), ports)

    record = await store.get_record(RESOURCE_ID, REQUEST_ID)
    assert record is not None
    assert record["content"] is None and record["content_logging"] is False
    assert CANARY not in repr(record)
    assert record["status"] == 200 and record["finish_reasons"] == ["stop", "stop"]


async def test_record_expires_one_retention_period_after_completion():
    ports, store, _ = retention_ports()
    await store_interaction(interaction(), ports)

    record = await store.get_record(RESOURCE_ID, REQUEST_ID)
    assert record is not None
    assert record["completed_at"] == COMPLETED_AT
    assert record["expires_at"] == datetime(2025, 4, 13, 9, 27, 5, tzinfo=UTC)


async def test_record_of_another_region_is_refused_and_not_stored():
    ports, store, _ = retention_ports()
    with pytest.raises(WrongRegion):
        await store_interaction(interaction(region="us-east"), ports)
    assert store.records == {}


async def test_storing_the_same_interaction_twice_keeps_one_record():
    ports, store, cipher = retention_ports()
    await store_interaction(interaction(), ports)
    await store_interaction(interaction(completions=["a replayed answer"]), ports)

    assert list(store.records) == [(RESOURCE_ID, REQUEST_ID)]
    record = store.records[(RESOURCE_ID, REQUEST_ID)]
    assert record["_id"] == f"{RESOURCE_ID}/{REQUEST_ID}"
    assert open_content(record, cipher, RESOURCE_ID, REQUEST_ID)["completions"] == [
        f"Your secret is {CANARY}", "I will not repeat it."]
