"""Hand-written in-memory fakes of the retention ports, with the semantics of the Mongo adapters
(unique keys, one active data key per day, conditional grant approval, unique audit sequence,
records as BSON gives them back, a per-replica policy cache). The store-contract suite
(tests/integration/test_retention_store_contracts.py) runs each fake and its adapter alike."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import bson
from bson.codec_options import CodecOptions

from services.retention.model import AuditEntry, Flag, Grant, SignalRecord, StoredDataKey, StoredRecords
from services.retention.records import signal_record_of
from tests.unit.builders import CREATED_AT


class FakeClock:
    def __init__(self, now: datetime = CREATED_AT) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


BSON = CodecOptions(tz_aware=True)


def as_stored(document: dict[str, Any]) -> dict[str, Any]:
    """What MongoDB gives back: a copy, bytes for Binary, lists for tuples, UTC times to the millisecond."""
    return bson.decode(bson.encode(document), BSON)


class InMemoryRecordStore:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], dict[str, Any]] = {}

    def _put(self, record: dict[str, Any]) -> bool:
        key = (record["resource_id"], record["request_id"])
        if key in self.records:
            return False
        self.records[key] = as_stored(record)
        return True

    async def get_record(self, resource_id: str, request_id: str) -> dict[str, Any] | None:
        found = self.records.get((resource_id, request_id))
        return as_stored(found) if found is not None else None

    async def put_records(self, records: Sequence[dict[str, Any]]) -> StoredRecords:
        return StoredRecords(sum([self._put(r) for r in records]))

    async def signal_history(self, resource_id: str, since: datetime, until: datetime, *, kind: str | None,
                             end_user: str | None, limit: int) -> list[SignalRecord]:
        found = [signal_record_of(r) for (rid, _), r in self.records.items()
                 if rid == resource_id and since < r["completed_at"] <= until
                 and (kind in r["signal_kinds"] if kind else r["has_signals"])
                 and (end_user is None or r["end_user"] == end_user)]
        return sorted(found, key=lambda r: r.completed_at)[-limit:]

    async def mark_flagged(self, resource_id: str, request_ids: Sequence[str], flag_id: str, rule: str) -> None:
        for request_id in request_ids:
            record = self.records.get((resource_id, request_id))
            if record is not None and record["has_signals"]:  # flag state lives beside signals only
                record["flagged"] = True
                record["flag_ids"] += [flag_id] if flag_id not in record["flag_ids"] else []  # $addToSet
                record["flag_rules"] += [rule] if rule not in record["flag_rules"] else []

    def _delete(self, keep) -> int:
        before = len(self.records)
        self.records = {k: r for k, r in self.records.items() if keep(k, r)}
        return before - len(self.records)

    async def delete_expired(self, now: datetime) -> int:
        return self._delete(lambda k, r: r["expires_at"] > now)

    async def delete_completed_before(self, resource_id: str, before: datetime) -> int:
        return self._delete(lambda k, r: k[0] != resource_id or r["completed_at"] >= before)

    async def delete_resource(self, resource_id: str) -> int:
        return self._delete(lambda k, r: k[0] != resource_id)

    async def count_resource(self, resource_id: str) -> int:
        return sum(1 for k in self.records if k[0] == resource_id)


class InMemoryKeyStore:
    def __init__(self) -> None:
        self.keys: dict[str, StoredDataKey] = {}
        self.lose_next_insert_race = False

    async def active_key(self, resource_id: str, day: str) -> StoredDataKey | None:
        return next((k for k in self.keys.values()
                     if k.resource_id == resource_id and k.day == day and not k.destroyed), None)

    async def insert_key(self, key: StoredDataKey) -> bool:
        if await self.active_key(key.resource_id, key.day) is not None:
            return False
        self.keys[key.key_id] = key
        return True

    async def get_key(self, key_id: str) -> StoredDataKey | None:
        return self.keys.get(key_id)

    def _destroy(self, match, now: datetime, because: str) -> int:
        hits = [k for k in self.keys.values() if not k.destroyed and match(k)]
        for key in hits:
            self.keys[key.key_id] = dataclasses.replace(key, wrapped=None, destroyed_at=now, destroyed_because=because)
        return len(hits)

    async def destroy_due(self, now: datetime) -> int:
        return self._destroy(lambda k: k.destroy_at <= now, now, "retention window ended")

    async def destroy_resource(self, resource_id: str, now: datetime, because: str,
                               day_start_before: datetime | None = None) -> int:
        return self._destroy(lambda k: k.resource_id == resource_id
                             and (day_start_before is None or k.day_start < day_start_before), now, because)


class InMemoryPolicyStore:
    """Like the adapter, each replica caches what it read for ``cache_s`` (own writes at once)."""

    def __init__(self, days: dict[str, int] | None = None, *, cache_s: float = 30.0) -> None:
        self.days = dict(days or {})
        self.cache_s = cache_s
        self._cache: dict[str, tuple[int | None, float]] = {}

    def replica(self, *, cache_s: float = 30.0) -> InMemoryPolicyStore:
        """Another process's store over the same policies, with its own cache."""
        other = InMemoryPolicyStore(cache_s=cache_s)
        other.days = self.days
        return other

    async def retention_days(self, resource_id: str, *, fresh: bool = False) -> int | None:
        cached = self._cache.get(resource_id)
        if cached and not fresh and time.monotonic() - cached[1] < self.cache_s:
            return cached[0]
        days = self.days.get(resource_id)
        self._cache[resource_id] = (days, time.monotonic())
        return days

    async def set_retention_days(self, resource_id: str, days: int) -> None:
        self.days[resource_id] = days
        self._cache[resource_id] = (days, time.monotonic())

    async def all_retention_days(self) -> dict[str, int]:
        return dict(self.days)


class InMemoryFlagStore:
    def __init__(self) -> None:
        self.flags: dict[str, Flag] = {}

    async def raise_flag(self, flag: Flag) -> bool:
        if flag.flag_id in self.flags:
            return False
        self.flags[flag.flag_id] = flag
        return True

    async def list_flags(self, limit: int) -> list[Flag]:
        return sorted(self.flags.values(), key=lambda f: f.raised_at, reverse=True)[:limit]

    def _delete(self, gone) -> int:
        doomed = [i for i, f in self.flags.items() if gone(f)]
        for flag_id in doomed:
            del self.flags[flag_id]
        return len(doomed)

    async def delete_expired(self, now: datetime) -> int:
        return self._delete(lambda f: f.expires_at <= now)

    async def delete_ended_before(self, resource_id: str, before: datetime) -> int:
        return self._delete(lambda f: f.resource_id == resource_id and f.window_end < before)

    async def delete_resource(self, resource_id: str) -> int:
        return self._delete(lambda f: f.resource_id == resource_id)


class InMemoryGrantStore:
    def __init__(self) -> None:
        self.grants: dict[str, Grant] = {}

    async def insert_grant(self, grant: Grant) -> None:
        self.grants[grant.grant_id] = grant

    async def get_grant(self, grant_id: str) -> Grant | None:
        return self.grants.get(grant_id)

    async def approve(self, grant_id: str, approver: str, approved_at: datetime, expires_at: datetime) -> bool:
        grant = self.grants.get(grant_id)
        if grant is None or grant.status != "requested":
            return False
        self.grants[grant_id] = dataclasses.replace(grant, status="approved", approved_by=approver,
                                                    approved_at=approved_at, expires_at=expires_at)
        return True

    async def delete_expired(self, now: datetime) -> int:
        doomed = [i for i, g in self.grants.items() if g.record_expires_at <= now]
        for grant_id in doomed:
            del self.grants[grant_id]
        return len(doomed)

    async def delete_resource(self, resource_id: str) -> int:
        doomed = [i for i, g in self.grants.items() if g.resource_id == resource_id]
        for grant_id in doomed:
            del self.grants[grant_id]
        return len(doomed)


class InMemoryAuditStore:
    def __init__(self) -> None:
        self.entries_by_key: dict[tuple[str, int], AuditEntry] = {}
        self.duplicates = 0

    async def head(self, chain: str) -> AuditEntry | None:
        mine = [e for (c, _), e in self.entries_by_key.items() if c == chain]
        return max(mine, key=lambda e: e.sequence, default=None)

    async def insert_entry(self, entry: AuditEntry) -> bool:
        key = (entry.chain, entry.sequence)
        if key in self.entries_by_key:
            self.duplicates += 1
            return False
        self.entries_by_key[key] = entry
        return True

    async def entries(self, chain: str) -> list[AuditEntry]:
        return sorted((e for (c, _), e in self.entries_by_key.items() if c == chain), key=lambda e: e.sequence)

    async def entries_of_resource(self, chain: str, resource_id: str, limit: int) -> list[AuditEntry]:
        mine = [e for e in await self.entries(chain) if e.event.resource_id == resource_id]
        return list(reversed(mine))[:limit]
