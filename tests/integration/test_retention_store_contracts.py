"""One contract per retention store port, run against its hand-written fake (tests/unit/retention_fakes.py)
and its MongoDB adapter on the real FerretDB: what the unit tests learn from a fake holds for the
adapter the service runs. Every field of every value goes in and comes back out.

Times are whole milliseconds: BSON keeps no more. A second *replica* is another adapter over the
same storage (its own caches), as a second retention process would have.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from contracts.common import ChatMessage, Usage
from contracts.interaction_records import InteractionCompleted
from services.retention.adapters.mongo_region import MongoRegionStore
from services.retention.model import (
    AuditEntry,
    AuditEvent,
    Flag,
    Grant,
    SealedContent,
    SignalRecord,
    StoredDataKey,
    StoredRecords,
)
from services.retention.ports import AuditStore, FlagStore, GrantStore, KeyStore, PolicyStore, RecordStore
from services.retention.records import build_record
from tests.unit.retention_fakes import (
    InMemoryAuditStore,
    InMemoryFlagStore,
    InMemoryGrantStore,
    InMemoryKeyStore,
    InMemoryPolicyStore,
    InMemoryRecordStore,
)

T0 = datetime(2025, 3, 14, 9, 27, 5, 123000, tzinfo=UTC)
DAY = datetime(2025, 3, 14, tzinfo=UTC)
JAILBREAK = {"jailbreak": {"filtered": True, "detected": True}}
HIGH_HATE = {"hate": {"filtered": True, "severity": "high"}}
SAFE = {"hate": {"filtered": False, "severity": "safe"}}


@dataclass
class Stores:
    records: RecordStore
    keys: KeyStore
    flags: FlagStore
    grants: GrantStore
    audit: AuditStore
    policies: PolicyStore
    replica: Callable[..., Any]  # another process's stores over the same storage: replica(policy_cache_s)


def in_memory() -> Stores:
    policies = InMemoryPolicyStore()
    return Stores(InMemoryRecordStore(), InMemoryKeyStore(), InMemoryFlagStore(), InMemoryGrantStore(),
                  InMemoryAuditStore(), policies, replica=lambda cache_s: policies.replica(cache_s=cache_s))


@pytest.fixture(params=["memory", pytest.param("mongo", marks=pytest.mark.mongo)])
async def stores(request) -> AsyncIterator[Stores]:
    if request.param == "memory":
        yield in_memory()
        return
    uri, database = request.getfixturevalue("infra").mongo, f"contract_{uuid.uuid4().hex[:12]}"
    opened: list[MongoRegionStore] = []

    def region_store(cache_s: float = 30.0) -> MongoRegionStore:
        opened.append(MongoRegionStore(uri, database, policy_cache_s=cache_s))
        return opened[-1]

    store = region_store()
    await store.create_indexes()
    try:
        yield Stores(store.records, store.keys, store.flags, store.grants, store.audit, store.policies,
                     replica=lambda cache_s: region_store(cache_s).policies)
    finally:
        for each in opened:
            await each.close()
        async with AsyncMongoClient(uri) as client:
            await client.drop_database(database)


# -- records ----------------------------------------------------------------------------------

def record(request_id: str, *, resource_id: str = "contoso", completed_at: datetime = T0,
           end_user: str | None = "user-1", results: dict | None = None, days: int = 30,
           content: bool = True) -> dict[str, Any]:
    """A record as the handler builds it, every field set."""
    event = InteractionCompleted(
        request_id=request_id, resource_id=resource_id, region="eu-west", deployment="chat",
        created_at=completed_at - timedelta(seconds=2), reply_to="gw-1", completed_at=completed_at, status=200,
        end_user=end_user, content_logging=content, messages=[ChatMessage(role="user", content="hi")],
        completions=["hello"], finish_reasons=["stop"], prompt_filter_results=[results or SAFE],
        completion_filter_results=[SAFE], citation_ids=["65f2a1b2c3d4e5f601234567"], error_code=None,
        usage=Usage(prompt_tokens=3, completion_tokens=1, total_tokens=4))
    sealed = SealedContent(f"{resource_id}/2025-03-14/0a1b2c3d", b"\x00" * 12, b"\x01\x02" * 20) if content else None
    return build_record(event, expires_at=DAY + timedelta(days=days), retention_days=days, content=sealed)


def as_read(r: dict[str, Any]) -> dict[str, Any]:
    """The record as the store gives it back: bson.Binary comes back as plain bytes."""
    content = r["content"] and {**r["content"], "nonce": bytes(r["content"]["nonce"]),
                                "ciphertext": bytes(r["content"]["ciphertext"])}
    return {**r, "content": content}


def signal(r: dict[str, Any], *flagged_by: str) -> SignalRecord:
    return SignalRecord(request_id=r["request_id"], end_user=r["end_user"], completed_at=r["completed_at"],
                        signals=tuple(r["signals"]), expires_at=r["expires_at"], flagged_by=flagged_by)


async def test_a_record_comes_back_with_every_field(stores: Stores) -> None:
    flagged = record("req-signal", results=JAILBREAK | HIGH_HATE)
    plain = record("req-plain", end_user=None, content=False)
    assert await stores.records.put_records([flagged, plain]) == StoredRecords(2, {})
    assert await stores.records.get_record("contoso", "req-signal") == as_read(flagged)
    assert await stores.records.get_record("contoso", "req-plain") == as_read(plain)
    assert await stores.records.get_record("fabrikam", "req-signal") is None
    assert await stores.records.count_resource("contoso") == 2


async def test_a_request_is_stored_once(stores: Stores) -> None:
    first = record("req-once")
    assert await stores.records.put_records([first]) == StoredRecords(1, {})
    again = record("req-once", completed_at=T0 + timedelta(minutes=1))
    assert await stores.records.put_records([again, record("req-new-1"), again]) == StoredRecords(1, {})
    assert await stores.records.get_record("contoso", "req-once") == as_read(first)
    assert await stores.records.count_resource("contoso") == 2


async def test_signal_history_is_the_newest_matching_records_of_one_resource_oldest_first(stores: Stores) -> None:
    at = [T0 + timedelta(minutes=i) for i in range(6)]
    records = [record("request-0", completed_at=at[0], results=JAILBREAK),
               record("request-1", completed_at=at[1], results=HIGH_HATE),
               record("request-2", completed_at=at[2], results=JAILBREAK, end_user="user-2"),
               record("request-3", completed_at=at[3]),  # no signal
               record("request-4", completed_at=at[4], results=JAILBREAK | HIGH_HATE),
               record("request-5", completed_at=at[5], results=JAILBREAK, resource_id="fabrikam")]
    await stores.records.put_records(records)
    r0, r1, r2, _, r4, _ = records
    history = stores.records.signal_history
    assert await history("contoso", at[0], at[4], kind=None, end_user=None, limit=10) == [
        signal(r1), signal(r2), signal(r4)], "since is exclusive, until inclusive"
    assert await history("contoso", at[0] - timedelta(seconds=1), at[5], kind="jailbreak", end_user=None,
                         limit=10) == [signal(r0), signal(r2), signal(r4)]
    assert await history("contoso", at[0] - timedelta(seconds=1), at[5], kind="high", end_user="user-1",
                         limit=10) == [signal(r1), signal(r4)]
    assert await history("contoso", at[0] - timedelta(seconds=1), at[5], kind=None, end_user=None,
                         limit=2) == [signal(r2), signal(r4)]


async def test_flags_mark_records_with_signals_once_each(stores: Stores) -> None:
    a, quiet = record("req-a-111", results=JAILBREAK), record("req-quiet")
    b = record("req-b-222", results=JAILBREAK, completed_at=T0 + timedelta(seconds=1))
    await stores.records.put_records([a, b, quiet])
    for _ in range(2):  # a redelivery marks again: nothing changes
        await stores.records.mark_flagged("contoso", ["req-a-111", "req-b-222", "req-quiet"], "flag-1", "rule-1")
    await stores.records.mark_flagged("contoso", ["req-a-111"], "flag-2", "rule-2")
    await stores.records.mark_flagged("fabrikam", ["req-b-222"], "flag-3", "rule-3")  # not fabrikam's record

    assert await stores.records.get_record("contoso", "req-a-111") == {
        **as_read(a), "flagged": True, "flag_ids": ["flag-1", "flag-2"], "flag_rules": ["rule-1", "rule-2"]}
    assert await stores.records.get_record("contoso", "req-b-222") == {
        **as_read(b), "flagged": True, "flag_ids": ["flag-1"], "flag_rules": ["rule-1"]}
    quiet_read = await stores.records.get_record("contoso", "req-quiet")
    assert quiet_read == as_read(quiet), "a record without signals is never flagged"
    assert await stores.records.signal_history("contoso", T0 - timedelta(days=1), b["completed_at"], kind=None,
                                               end_user=None, limit=10) == [signal(a, "rule-1", "rule-2"),
                                                                            signal(b, "rule-1")]


async def test_expired_records_and_their_signals_are_deleted_across_resources(stores: Stores) -> None:
    short = [record("short-1-req", results=JAILBREAK, days=1), record("short-2-req", days=1, resource_id="fabrikam",
                                                                    results=JAILBREAK)]
    kept = record("kept-1-req", results=JAILBREAK, days=2)
    await stores.records.put_records([*short, kept])
    assert await stores.records.delete_expired(DAY + timedelta(days=1)) == 2, "expires_at itself is expired"
    assert await stores.records.get_record("contoso", "short-1-req") is None
    assert await stores.records.get_record("fabrikam", "short-2-req") is None
    assert await stores.records.get_record("contoso", "kept-1-req") == as_read(kept)
    everything = (DAY - timedelta(days=1), DAY + timedelta(days=1))
    assert await stores.records.signal_history("contoso", *everything, kind=None, end_user=None, limit=10) == [
        signal(kept)]
    assert await stores.records.signal_history("fabrikam", *everything, kind=None, end_user=None, limit=10) == []


async def test_a_lowered_retention_deletes_one_resources_older_records_and_signals(stores: Stores) -> None:
    old = record("old-request", results=JAILBREAK)
    new = record("new-request", results=JAILBREAK, completed_at=T0 + timedelta(days=1))
    other = record("other-request", results=JAILBREAK, resource_id="fabrikam")
    await stores.records.put_records([old, new, other])
    assert await stores.records.delete_completed_before("contoso", new["completed_at"]) == 1
    assert await stores.records.get_record("contoso", "old-request") is None
    assert await stores.records.get_record("fabrikam", "other-request") == as_read(other)
    window = (T0 - timedelta(days=1), T0 + timedelta(days=2))
    assert await stores.records.signal_history("contoso", *window, kind=None, end_user=None, limit=10) == [
        signal(new)]


async def test_deleting_a_resource_deletes_its_records_and_signals_only(stores: Stores) -> None:
    await stores.records.put_records([record("request-a", results=JAILBREAK), record("request-b"),
                                      record("request-a", resource_id="fabrikam", results=JAILBREAK)])
    assert await stores.records.delete_resource("contoso") == 2
    assert await stores.records.count_resource("contoso") == 0
    assert await stores.records.count_resource("fabrikam") == 1
    window = (T0 - timedelta(days=1), T0)
    assert await stores.records.signal_history("contoso", *window, kind=None, end_user=None, limit=10) == []
    assert len(await stores.records.signal_history("fabrikam", *window, kind=None, end_user=None, limit=10)) == 1


# -- data keys --------------------------------------------------------------------------------

def data_key(resource_id: str = "contoso", day: int = 0, *, suffix: str = "0a1b2c3d",
             layers: tuple[str, ...] = ("platform:platform-1", "customer:cmk-1")) -> StoredDataKey:
    start = DAY + timedelta(days=day)
    name = start.date().isoformat()
    return StoredDataKey(key_id=f"{resource_id}/{name}/{suffix}", resource_id=resource_id, day=name, day_start=start,
                         destroy_at=start + timedelta(days=30), layers=layers, wrapped=bytes(range(60)),
                         created_at=T0 + timedelta(days=day))


async def test_a_data_key_comes_back_with_every_field_and_one_is_active_per_resource_and_day(stores: Stores) -> None:
    key = data_key()
    assert await stores.keys.insert_key(key) is True
    assert await stores.keys.get_key(key.key_id) == key
    assert await stores.keys.active_key("contoso", key.day) == key
    assert await stores.keys.insert_key(data_key(suffix="ffffffff")) is False, "a second active key of that day"
    assert await stores.keys.insert_key(data_key("fabrikam", layers=("platform:platform-1",))) is True
    assert await stores.keys.active_key("contoso", "2025-03-15") is None
    assert await stores.keys.get_key("contoso/2025-03-14/ffffffff") is None


async def test_destroying_keys_keeps_the_evidence_and_frees_the_day(stores: Stores) -> None:
    keys = [data_key(day=0), data_key(day=1), data_key(day=2), data_key("fabrikam", day=0)]
    for key in keys:
        await stores.keys.insert_key(key)
    now = T0 + timedelta(days=30, hours=1)  # day 0's keys are due
    assert await stores.keys.destroy_due(now) == 2
    assert await stores.keys.destroy_due(now) == 0
    assert await stores.keys.get_key(keys[0].key_id) == replace(keys[0], wrapped=None, destroyed_at=now,
                                                               destroyed_because="retention window ended")
    assert await stores.keys.active_key("contoso", keys[0].day) is None
    later = now + timedelta(minutes=1)
    assert await stores.keys.destroy_resource("contoso", later, "retention lowered",
                                              day_start_before=keys[2].day_start) == 1
    assert await stores.keys.get_key(keys[1].key_id) == replace(keys[1], wrapped=None, destroyed_at=later,
                                                               destroyed_because="retention lowered")
    assert await stores.keys.get_key(keys[2].key_id) == keys[2]
    assert await stores.keys.destroy_resource("contoso", later, "customer deletion") == 1
    assert (await stores.keys.get_key(keys[2].key_id)).destroyed_because == "customer deletion"
    assert await stores.keys.insert_key(data_key(day=2, suffix="99999999")) is True, "the day's slot is free again"


# -- flags ------------------------------------------------------------------------------------

def flag(flag_id: str, *, resource_id: str = "contoso", end_user: str | None = "user-1", minutes: int = 0,
         days: int = 30) -> Flag:
    end = T0 + timedelta(minutes=minutes)
    return Flag(flag_id=flag_id, resource_id=resource_id, rule="repeated-jailbreak", end_user=end_user,
                request_ids=("req-1", "req-2", "req-3"), window_start=end - timedelta(hours=1), window_end=end,
                raised_at=end + timedelta(seconds=1), expires_at=DAY + timedelta(days=days), window_count=7)


async def test_a_flag_comes_back_with_every_field_newest_first(stores: Stores) -> None:
    flags = [flag("f-0"), flag("f-1", end_user=None, minutes=1), flag("f-2", resource_id="fabrikam", minutes=2)]
    for each in flags:
        assert await stores.flags.raise_flag(each) is True
    assert await stores.flags.raise_flag(replace(flags[0], window_count=8)) is False, "raised once"
    assert await stores.flags.list_flags(10) == flags[::-1]
    assert await stores.flags.list_flags(2) == [flags[2], flags[1]]


async def test_flags_are_deleted_when_expired_when_retention_is_lowered_and_with_their_resource(stores: Stores) -> None:
    for each in (flag("short", days=1), flag("old", minutes=-60 * 24), flag("new"),
                 flag("other", resource_id="fabrikam", minutes=1)):
        await stores.flags.raise_flag(each)
    assert await stores.flags.delete_expired(DAY + timedelta(days=1)) == 1
    assert await stores.flags.delete_ended_before("contoso", T0 - timedelta(hours=1)) == 1
    assert [f.flag_id for f in await stores.flags.list_flags(10)] == ["other", "new"]
    assert await stores.flags.delete_resource("contoso") == 1
    assert [f.flag_id for f in await stores.flags.list_flags(10)] == ["other"]


# -- grants -----------------------------------------------------------------------------------

def grant(grant_id: str, *, resource_id: str = "contoso", days: int = 30) -> Grant:
    return Grant(grant_id=grant_id, resource_id=resource_id, request_id="req-1", requested_by="alice",
                 reason="flagged pattern", requested_at=T0, record_expires_at=DAY + timedelta(days=days))


async def test_a_grant_comes_back_with_every_field_and_is_approved_once(stores: Stores) -> None:
    asked = grant("grant-1")
    await stores.grants.insert_grant(asked)
    assert await stores.grants.get_grant("grant-1") == asked
    approved_at, until = T0 + timedelta(minutes=1), T0 + timedelta(minutes=16)
    assert await stores.grants.approve("grant-1", "bob", approved_at, until) is True
    assert await stores.grants.approve("grant-1", "carol", approved_at, until) is False
    assert await stores.grants.approve("grant-unknown", "bob", approved_at, until) is False
    assert await stores.grants.get_grant("grant-1") == replace(asked, status="approved", approved_by="bob",
                                                               approved_at=approved_at, expires_at=until)
    assert await stores.grants.get_grant("grant-unknown") is None


async def test_grants_go_with_their_record_and_their_resource(stores: Stores) -> None:
    for each in (grant("short", days=1), grant("long"), grant("other", resource_id="fabrikam")):
        await stores.grants.insert_grant(each)
    assert await stores.grants.delete_expired(DAY + timedelta(days=1)) == 1
    assert await stores.grants.get_grant("short") is None
    assert await stores.grants.delete_resource("contoso") == 1
    assert await stores.grants.get_grant("long") is None and await stores.grants.get_grant("other") is not None


# -- audit ------------------------------------------------------------------------------------

def entry(sequence: int, *, chain: str = "review/eu-west", resource_id: str | None = "contoso") -> AuditEntry:
    event = AuditEvent(actor="alice", workstation="ws-1", action="read-record", outcome="refused",
                       reason="no_grant", resource_id=resource_id, request_id="req-1", grant_id="grant-1")
    return AuditEntry(chain=chain, sequence=sequence, at=f"2025-03-14T09:27:0{sequence}.123+00:00", event=event,
                      prev_hash=f"{sequence:064x}", hash=f"{sequence + 1:064x}")


async def test_audit_entries_come_back_with_every_field_in_chain_order(stores: Stores) -> None:
    entries = [entry(0), entry(1, resource_id=None), entry(2, resource_id="fabrikam"), entry(3)]
    assert await stores.audit.head("review/eu-west") is None
    for each in entries:
        assert await stores.audit.insert_entry(each) is True
    assert await stores.audit.insert_entry(replace(entries[1], hash="f" * 64)) is False, "one entry per sequence"
    assert await stores.audit.insert_entry(entry(0, chain="review/us-east")) is True
    assert await stores.audit.head("review/eu-west") == entries[3]
    assert await stores.audit.entries("review/eu-west") == entries
    assert await stores.audit.entries_of_resource("review/eu-west", "contoso", 10) == [entries[3], entries[0]]
    assert await stores.audit.entries_of_resource("review/eu-west", "contoso", 1) == [entries[3]]


# -- retention policies -----------------------------------------------------------------------

async def test_a_resources_retention_is_kept_and_listed(stores: Stores) -> None:
    assert await stores.policies.retention_days("contoso") is None
    await stores.policies.set_retention_days("contoso", 7)
    await stores.policies.set_retention_days("fabrikam", 3)
    await stores.policies.set_retention_days("contoso", 5)
    assert await stores.policies.retention_days("contoso") == 5
    assert await stores.policies.all_retention_days() == {"contoso": 5, "fabrikam": 3}


async def test_another_replica_sees_a_changed_retention_within_its_cache_time(stores: Stores) -> None:
    here, there = stores.replica(0.5), stores.replica(0.5)
    assert await there.retention_days("contoso") is None  # now cached there
    await here.set_retention_days("contoso", 7)
    assert await here.retention_days("contoso") == 7, "a replica sees its own change at once"
    assert await there.retention_days("contoso") is None, "the other replica answers from its cache"
    assert await there.retention_days("contoso", fresh=True) == 7
    assert await there.all_retention_days() == {"contoso": 7}, "the sweep's list is never cached"
    await asyncio.sleep(0.6)
    assert await there.retention_days("contoso") == 7
