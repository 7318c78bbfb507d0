"""Stored completions in retention, on fakes and the real keyring: sealed under their own keys,
kept whatever content logging says, 30 days or until deleted, and only ever the resource's own."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from contracts.interaction_records import StoredCompletion
from contracts.stored_completion_requests import StoredCompletionsRequested
from services.retention import customer
from services.retention.adapters.platform_keys import PlatformKeyProvider
from services.retention.customer import CustomerPorts
from services.retention.errors import UnreadableRecord
from services.retention.keyring import Keyring
from services.retention.stored import Page, StoredPorts, StoredRecord, answer_query, store_completion, sweep_stored
from tests.unit.builders import REGION, chat, envelope
from tests.unit.retention_fakes import FakeClock, InMemoryKeyStore
from tests.unit.retention_world import CANARY, COMPLETED_AT, World, interaction


class InMemoryStoredCompletions:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], StoredRecord] = {}

    async def put(self, record: StoredRecord) -> bool:
        return self.records.setdefault((record.resource_id, record.completion_id), record) is record

    async def find(self, resource_id: str, completion_id: str) -> StoredRecord | None:
        return self.records.get((resource_id, completion_id))

    async def page(self, resource_id: str, *, model: str | None, metadata: dict[str, str], after: str | None,
                   limit: int, descending: bool) -> Page:
        chosen = sorted((r for (owner, _), r in self.records.items() if owner == resource_id
                         and model in (None, r.model) and metadata.items() <= r.metadata.items()),
                        key=lambda r: (r.created_at, r.completion_id), reverse=descending)
        ids = [r.completion_id for r in chosen]
        start = ids.index(after) + 1 if after in ids else 0
        return Page(chosen[start:start + limit], has_more=start + limit < len(chosen))

    async def set_metadata(self, resource_id: str, completion_id: str, metadata: dict[str, str]) -> bool:
        record = self.records[(resource_id, completion_id)]
        self.records[(resource_id, completion_id)] = replace(record, metadata=metadata)
        return True

    async def delete(self, resource_id: str, completion_id: str) -> bool:
        return self.records.pop((resource_id, completion_id), None) is not None

    async def delete_resource(self, resource_id: str) -> int:
        owned = [k for k in self.records if k[0] == resource_id]
        for k in owned:
            del self.records[k]
        return len(owned)

    async def delete_expired(self, now: datetime) -> int:
        expired = [k for k, r in self.records.items() if r.expires_at <= now]
        for k in expired:
            del self.records[k]
        return len(expired)


@pytest.fixture
def ports() -> StoredPorts:
    clock = FakeClock(COMPLETED_AT + timedelta(seconds=1))
    keyring = Keyring(InMemoryKeyStore(), PlatformKeyProvider({"stored": os.urandom(32)}), "stored", clock=clock)
    return StoredPorts(store=InMemoryStoredCompletions(), keyring=keyring, clock=clock, region=REGION)


def stored_event(completion_id: str, *, resource_id: str = "contoso", model: str = "smollm2",
                 metadata: dict[str, str] | None = None, content_logging: bool = False, seconds: int = 0):
    response = {"id": completion_id, "object": "chat.completion", "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": f"Answer {CANARY}"}}]}
    stored = StoredCompletion(completion_id=completion_id, model=model, metadata=metadata or {},
                              messages=chat(("system", "Be brief."), ("user", f"Question {CANARY}")),
                              response=json.dumps(response))
    return interaction(content_logging=content_logging, messages=[], completions=[], stored=stored,
                       resource_id=resource_id, created_at=COMPLETED_AT + timedelta(seconds=seconds))


def ask(operation: str, resource_id: str = "contoso", **fields) -> StoredCompletionsRequested:
    return StoredCompletionsRequested(**{**envelope(), "resource_id": resource_id}, operation=operation, **fields)


async def test_a_stored_completion_is_sealed_and_kept_even_with_content_logging_off(ports):
    assert await store_completion(stored_event("chatcmpl-1"), ports)
    [record] = ports.store.records.values()
    assert CANARY.encode() not in record.content.ciphertext
    assert record.expires_at == datetime(2025, 4, 13, tzinfo=COMPLETED_AT.tzinfo)  # day start + 30 days
    found = await answer_query(ask("get", completion_id="chatcmpl-1"), ports)
    body = json.loads(found.items[0])
    assert body["choices"][0]["message"]["content"] == f"Answer {CANARY}" and body["metadata"] == {}
    assert not await store_completion(stored_event("chatcmpl-1"), ports)  # a redelivery stores nothing twice


async def test_another_resource_sees_nothing(ports):
    await store_completion(stored_event("chatcmpl-1"), ports)
    for operation in ("get", "messages", "update", "delete"):
        refused = await answer_query(ask(operation, resource_id="fabrikam", completion_id="chatcmpl-1"), ports)
        assert refused.error.status == 404 and CANARY not in refused.model_dump_json()
    assert (await answer_query(ask("list", resource_id="fabrikam"), ports)).items == []
    assert len(ports.store.records) == 1


async def test_a_sealed_completion_moved_to_another_resource_does_not_open(ports):
    await store_completion(stored_event("chatcmpl-1"), ports)
    [record] = ports.store.records.values()
    ports.store.records[("fabrikam", "chatcmpl-1")] = replace(record, resource_id="fabrikam")
    with pytest.raises(UnreadableRecord):
        await answer_query(ask("get", resource_id="fabrikam", completion_id="chatcmpl-1"), ports)


async def test_the_list_filters_by_model_and_metadata_and_pages_in_order(ports):
    for i, (model, tags) in enumerate([("a", {"app": "x"}), ("b", {"app": "x"}), ("a", {"app": "y"}),
                                       ("a", {"app": "x", "env": "prod"})]):
        await store_completion(stored_event(f"chatcmpl-{i}", model=model, metadata=tags, seconds=i), ports)
    async def ids(**fields):
        found = await answer_query(ask("list", **fields), ports)
        return [json.loads(item)["id"] for item in found.items], found.has_more
    assert await ids(model="a", metadata={"app": "x"}) == (["chatcmpl-0", "chatcmpl-3"], False)
    assert await ids(limit=2) == (["chatcmpl-0", "chatcmpl-1"], True)
    assert await ids(limit=2, after="chatcmpl-1") == (["chatcmpl-2", "chatcmpl-3"], False)
    assert await ids(order="desc", limit=1) == (["chatcmpl-3"], True)


async def test_metadata_is_updated_and_messages_are_listed_with_ids(ports):
    await store_completion(stored_event("chatcmpl-1", metadata={"app": "x"}), ports)
    updated = await answer_query(ask("update", completion_id="chatcmpl-1", metadata={"app": "z"}), ports)
    assert json.loads(updated.items[0])["metadata"] == {"app": "z"}
    assert (await answer_query(ask("list", metadata={"app": "x"}), ports)).items == []
    messages = await answer_query(ask("messages", completion_id="chatcmpl-1", limit=1), ports)
    assert [json.loads(m)["id"] for m in messages.items] == ["chatcmpl-1-0"] and messages.has_more
    rest = await answer_query(ask("messages", completion_id="chatcmpl-1", after="chatcmpl-1-0"), ports)
    assert [json.loads(m)["content"] for m in rest.items] == [f"Question {CANARY}"] and not rest.has_more


async def test_deleted_is_gone_and_the_sweep_shreds_after_30_days(ports):
    await store_completion(stored_event("chatcmpl-1"), ports)
    await store_completion(stored_event("chatcmpl-2"), ports)
    assert (await answer_query(ask("delete", completion_id="chatcmpl-1"), ports)).deleted
    assert (await answer_query(ask("get", completion_id="chatcmpl-1"), ports)).error.status == 404
    [record] = ports.store.records.values()
    ports.clock.advance(days=30)
    assert await sweep_stored(ports) == (1, 1)
    with pytest.raises(UnreadableRecord):  # a copy left behind no longer opens: its day key is destroyed
        await ports.keyring.open("contoso", record.content, b"residency/stored-completion/v1/contoso/chatcmpl-2")


async def test_deleting_the_resources_content_takes_its_stored_completions_too(ports):
    world = World()
    await store_completion(stored_event("chatcmpl-1"), ports)
    await store_completion(stored_event("chatcmpl-1", resource_id="fabrikam"), ports)
    customer_ports = CustomerPorts(sweep=replace(world.sweep, stored=ports), audit=world.audit,
                                   audit_store=world.audit_store)
    result = await customer.delete_content("contoso", customer_ports)
    assert result["stored_completions_deleted"] == 1 and result["keys_destroyed"] == 1
    assert list(ports.store.records) == [("fabrikam", "chatcmpl-1")]


async def test_a_customer_managed_key_wraps_the_resources_stored_completion_keys_and_its_revocation_locks_them(
        tmp_path, monkeypatch):
    # The keyring as bootstrap composes it from settings, with the real key-file adapter.
    from types import SimpleNamespace

    from services.retention.bootstrap import stored_keyring_of
    from services.retention.settings import RetentionSettings

    for name in [n for n in os.environ if n.startswith("RESIDENCY_RETENTION_")]:
        monkeypatch.delenv(name)
    (tmp_path / "contoso-cmk.key").write_text(base64.b64encode(os.urandom(32)).decode())
    settings = RetentionSettings(platform_key=base64.b64encode(os.urandom(32)).decode(),
                                 customer_key_dir=str(tmp_path), customer_keys={"contoso": "contoso-cmk"})
    clock = FakeClock(COMPLETED_AT + timedelta(seconds=1))
    keys = InMemoryKeyStore()
    ports = StoredPorts(store=InMemoryStoredCompletions(), clock=clock, region=REGION,
                        keyring=stored_keyring_of(settings, SimpleNamespace(stored_keys=keys), clock))
    await store_completion(stored_event("chatcmpl-1"), ports)
    await store_completion(stored_event("chatcmpl-1", resource_id="fabrikam"), ports)
    layers = {key.resource_id: key.layers for key in keys.keys.values()}
    assert layers == {"contoso": ("platform:platform-1/stored-completions", "customer:contoso-cmk"),
                      "fabrikam": ("platform:platform-1/stored-completions",)}
    assert (await answer_query(ask("get", completion_id="chatcmpl-1"), ports)).items

    (tmp_path / "contoso-cmk.key").unlink()  # the customer revokes the key
    with pytest.raises(UnreadableRecord):
        await answer_query(ask("get", completion_id="chatcmpl-1"), ports)
    assert (await answer_query(ask("get", resource_id="fabrikam", completion_id="chatcmpl-1"), ports)).items
