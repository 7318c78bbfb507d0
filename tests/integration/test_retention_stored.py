"""Stored completions on the real broker and store: what ``store: true`` leaves in the region's
store (sealed under keys of their own, content logging off or not), and the store adapter's
queries on the MongoDB-protocol server (metadata filters, pages, deletion, expiry)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from contracts.common import ChatMessage
from contracts.interaction_records import StoredCompletion
from services.retention.adapters.mongo_stored import MongoStoredCompletions
from services.retention.model import SealedContent
from services.retention.stored import StoredRecord, associated_data
from tests.integration.retention_harness import interaction, running

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]
CANARY = "canary-3b9e-stored-completion"


@pytest.fixture(scope="module")
async def harness(infra, tmp_path_factory):
    async with running(infra, tmp_path_factory.mktemp("stored")) as harness:
        yield harness


async def test_store_true_is_kept_sealed_under_its_own_keys_with_content_logging_off(harness) -> None:
    event = interaction(harness.region, "contoso", "stored-1", content_logging=False).model_copy(update={
        "messages": [], "completions": [],
        "stored": StoredCompletion(completion_id="chatcmpl-stored-1", model="m", metadata={"app.name": "x"},
                                   messages=[ChatMessage(role="user", content=CANARY)],
                                   response=json.dumps({"id": "chatcmpl-stored-1", "text": CANARY}))})
    await harness.store(event)
    [record] = await harness.db["records"].find({"request_id": "stored-1"}).to_list()
    assert "content" not in record or record["content"] is None  # the abuse-monitoring record: no content
    [document] = await harness.db["stored_completions"].find({"resource_id": "contoso"}).to_list()
    assert CANARY.encode() not in bytes(document["ciphertext"]) and CANARY not in json.dumps(document, default=str)
    [key] = await harness.db["stored_completion_keys"].find({"_id": document["key_id"]}).to_list()
    assert key["resource_id"] == "contoso" and key["layers"][0].endswith("/stored-completions")
    assert await harness.db["data_keys"].count_documents({"_id": document["key_id"]}) == 0
    store = harness.service.stored
    found = await store.store.find("contoso", "chatcmpl-stored-1")
    assert found is not None and found.metadata == {"app.name": "x"}  # a dotted key is no field path here
    opened = await store.keyring.open("contoso", found.content, associated_data("contoso", "chatcmpl-stored-1"))
    assert CANARY in opened.decode()


def record(resource_id: str, number: int, *, model: str = "m", metadata: dict[str, str] | None = None,
           expires_in: timedelta = timedelta(days=30)) -> StoredRecord:
    created = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=number)
    return StoredRecord(resource_id=resource_id, completion_id=f"chatcmpl-{number}", model=model,
                        metadata=metadata or {}, created_at=created, expires_at=datetime.now(UTC) + expires_in,
                        content=SealedContent("k", b"n" * 12, b"c"))


async def test_the_adapter_filters_pages_updates_deletes_and_expires_per_resource(harness) -> None:
    store = MongoStoredCompletions(harness.db)
    await store.create_indexes()
    for r in (record("acme", 1, metadata={"app": "x"}), record("acme", 2, model="n", metadata={"app": "x"}),
              record("acme", 3, metadata={"app": "x", "env": "prod"}), record("acme", 4),
              record("acme", 5, expires_in=timedelta(seconds=-1)), record("globex", 1, metadata={"app": "x"})):
        assert await store.put(r)
    assert not await store.put(record("acme", 1))

    async def ids(**options):
        fields = {"model": None, "metadata": {}, "after": None, "limit": 10, "descending": False, **options}
        page = await store.page("acme", **fields)
        return [r.completion_id for r in page.records], page.has_more

    assert await ids(metadata={"app": "x"}) == (["chatcmpl-1", "chatcmpl-2", "chatcmpl-3"], False)
    assert await ids(metadata={"app": "x", "env": "prod"}) == (["chatcmpl-3"], False)
    assert await ids(model="n") == (["chatcmpl-2"], False)
    assert await ids(limit=2, after="chatcmpl-2") == (["chatcmpl-3", "chatcmpl-4"], True)
    assert await ids(limit=2, descending=True) == (["chatcmpl-5", "chatcmpl-4"], True)
    assert await store.set_metadata("acme", "chatcmpl-4", {"app": "x"})
    assert not await store.set_metadata("acme", "chatcmpl-9", {})
    assert (await ids(metadata={"app": "x"}))[0][-1] == "chatcmpl-4"
    assert await store.find("globex", "chatcmpl-2") is None
    assert not await store.delete("globex", "chatcmpl-2") and await store.delete("acme", "chatcmpl-2")
    assert await store.delete_expired(datetime.now(UTC)) == 1
    assert (await ids())[0] == ["chatcmpl-1", "chatcmpl-3", "chatcmpl-4"]
    assert await store.find("globex", "chatcmpl-1") is not None
