"""The hash-chained audit log with an in-memory store: linking, verification, racing appenders."""

from __future__ import annotations

import asyncio
import dataclasses
from itertools import pairwise

import pytest

from services.retention.audit import GENESIS, AuditLog, entry_hash, verify_chain
from services.retention.errors import AuditUnavailable
from services.retention.model import AuditEntry, AuditEvent
from tests.unit.retention_fakes import FakeClock, InMemoryAuditStore

CHAIN = "review/eu-west"


def event(i: int, outcome: str = "granted") -> AuditEvent:
    return AuditEvent(actor=f"reviewer-{i % 3}", workstation="ws-1", action="read-record", outcome=outcome,  # type: ignore[arg-type]
                      resource_id="contoso", request_id=f"req-{i:04d}", grant_id=f"grant-{i}")


async def filled(n: int) -> tuple[AuditLog, InMemoryAuditStore]:
    store = InMemoryAuditStore()
    log = AuditLog(store, CHAIN, FakeClock())
    for i in range(n):
        await log.append(event(i))
    return log, store


async def test_entries_link_to_their_predecessor_and_the_chain_verifies():
    log, store = await filled(5)
    entries = await store.entries(CHAIN)
    assert [e.sequence for e in entries] == [0, 1, 2, 3, 4]
    assert entries[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in pairwise(entries))
    result = await log.verify()
    assert result.ok and result.entries == 5 and result.head_hash == entries[-1].hash


@pytest.mark.parametrize("field", ["actor", "outcome", "request_id"])
async def test_an_edited_entry_is_found(field: str):
    log, store = await filled(5)
    entry = store.entries_by_key[(CHAIN, 2)]
    store.entries_by_key[(CHAIN, 2)] = dataclasses.replace(
        entry, event=dataclasses.replace(entry.event, **{field: "edited"}))
    result = await log.verify()
    assert not result.ok and result.first_bad_sequence == 2 and "edited" in (result.problem or "")


async def test_an_edited_time_is_found():
    log, store = await filled(3)
    entry = store.entries_by_key[(CHAIN, 1)]
    store.entries_by_key[(CHAIN, 1)] = dataclasses.replace(entry, at="2020-01-01T00:00:00.000+00:00")
    assert (await log.verify()).first_bad_sequence == 1


async def test_a_removed_entry_is_found():
    log, store = await filled(5)
    del store.entries_by_key[(CHAIN, 3)]
    result = await log.verify()
    assert not result.ok and result.first_bad_sequence == 3


async def test_a_rewritten_entry_with_a_fresh_hash_breaks_the_next_link():
    log, store = await filled(4)
    entry = store.entries_by_key[(CHAIN, 1)]
    forged_event = dataclasses.replace(entry.event, actor="nobody")
    store.entries_by_key[(CHAIN, 1)] = dataclasses.replace(
        entry, event=forged_event, hash=entry_hash(CHAIN, 1, entry.at, forged_event, entry.prev_hash))
    result = await log.verify()
    assert not result.ok and result.first_bad_sequence == 2 and "link" in (result.problem or "")


class RacyAuditStore(InMemoryAuditStore):
    """Yields between reading the head and inserting, as a remote store does."""

    async def head(self, chain: str) -> AuditEntry | None:
        found = await super().head(chain)
        await asyncio.sleep(0)
        return found


async def test_racing_appenders_retry_and_never_fork_the_chain():
    store = RacyAuditStore()
    logs = [AuditLog(store, CHAIN, FakeClock()) for _ in range(4)]
    await asyncio.gather(*(logs[i % 4].append(event(i)) for i in range(40)))
    entries = await store.entries(CHAIN)
    assert [e.sequence for e in entries] == list(range(40))
    assert verify_chain(CHAIN, entries).ok
    assert store.duplicates > 0, "the appenders must actually have raced"
    assert sorted(e.event.request_id or "" for e in entries) == sorted(f"req-{i:04d}" for i in range(40))


class FullStore(InMemoryAuditStore):
    async def insert_entry(self, entry: AuditEntry) -> bool:
        return False


async def test_an_append_that_never_lands_is_an_error_not_a_silent_loss(monkeypatch):
    monkeypatch.setattr("services.retention.audit.MAX_ATTEMPTS", 3)
    with pytest.raises(AuditUnavailable):
        await AuditLog(FullStore(), CHAIN, FakeClock()).append(event(0))
