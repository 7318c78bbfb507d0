"""What the retention handlers need from the outside world. Every store is the region's own.

Queries that touch records, keys, flags or grants of a resource name its resource ID first (the
MongoDB adapters' indexes lead with it). The exceptions (README, "Storing"; checked by
tests/integration/test_retention_queries.py): the sweep's lists of resources and of retentions,
the reviewers' list of flags (IDs and rule names, never content), a grant by its ID, and the
audit chain, which is one per region.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from services.retention.model import AuditEntry, Flag, Grant, SignalRecord, StoredDataKey, StoredRecords
from services.runtime.sealing import KeyProvider as KeyProvider  # the shared key-provider port

Clock = Callable[[], datetime]


class RecordStore(Protocol):
    """The region's record collection."""

    async def get_record(self, resource_id: str, request_id: str) -> dict[str, Any] | None: ...

    async def put_records(self, records: Sequence[dict[str, Any]]) -> StoredRecords:
        """Insert each once (duplicates of stored requests are skipped); returns how many were new
        and which records the store refused. Raises DependencyUnavailable (or pymongo's connection
        errors) when the store cannot take the write now: the whole batch is then retried."""

    async def signal_history(self, resource_id: str, since: datetime, until: datetime, *, kind: str | None,
                             end_user: str | None, limit: int) -> list[SignalRecord]:
        """The newest ``limit`` records of one resource completed in (since, until] with a signal of
        ``kind`` (any signal if None), of one end user if given; oldest first."""

    async def mark_flagged(self, resource_id: str, request_ids: Sequence[str], flag_id: str, rule: str) -> None: ...

    async def delete_expired(self, now: datetime) -> int:
        """Delete every record whose ``expires_at`` has passed; returns how many."""

    async def delete_completed_before(self, resource_id: str, before: datetime) -> int:
        """Delete one resource's records completed before ``before`` (a lowered retention)."""

    async def delete_resource(self, resource_id: str) -> int: ...

    async def count_resource(self, resource_id: str) -> int: ...


class KeyStore(Protocol):
    """The region's data keys, wrapped. At most one active key per resource and day."""

    async def active_key(self, resource_id: str, day: str) -> StoredDataKey | None: ...

    async def insert_key(self, key: StoredDataKey) -> bool:
        """False when another writer created that day's active key first."""

    async def get_key(self, key_id: str) -> StoredDataKey | None: ...

    async def destroy_due(self, now: datetime) -> int:
        """Remove the key material of every key whose ``destroy_at`` has passed."""

    async def destroy_resource(self, resource_id: str, now: datetime, because: str,
                               day_start_before: datetime | None = None) -> int:
        """Remove the key material of one resource's keys (all, or those of days before a date)."""


class PolicyStore(Protocol):
    """Per-resource retention set lower than the service's maximum. Each replica may cache what it
    read for a few seconds (own changes at once): the handlers read it for every record."""

    async def retention_days(self, resource_id: str, *, fresh: bool = False) -> int | None:
        """``fresh`` skips the cache: for answers to the owner, who may have changed it elsewhere."""

    async def set_retention_days(self, resource_id: str, days: int) -> None: ...

    async def all_retention_days(self) -> dict[str, int]: ...


class FlagStore(Protocol):
    async def raise_flag(self, flag: Flag) -> bool:
        """Insert once (flag IDs are deterministic); False if it was already raised."""

    async def list_flags(self, limit: int) -> list[Flag]: ...

    async def delete_expired(self, now: datetime) -> int: ...

    async def delete_ended_before(self, resource_id: str, before: datetime) -> int:
        """Delete one resource's flags whose window ended before ``before`` (a lowered retention)."""

    async def delete_resource(self, resource_id: str) -> int: ...


class GrantStore(Protocol):
    async def insert_grant(self, grant: Grant) -> None: ...

    async def get_grant(self, grant_id: str) -> Grant | None: ...

    async def approve(self, grant_id: str, approver: str, approved_at: datetime, expires_at: datetime) -> bool:
        """Approve a grant that is still only requested; False if it changed meanwhile."""

    async def delete_expired(self, now: datetime) -> int:
        """Delete grants whose record has expired (a grant outliving its record names nothing)."""

    async def delete_resource(self, resource_id: str) -> int: ...


class AuditStore(Protocol):
    """Append-only storage of chained entries; unique on (chain, sequence)."""

    async def head(self, chain: str) -> AuditEntry | None: ...

    async def insert_entry(self, entry: AuditEntry) -> bool:
        """False when an entry with that (chain, sequence) exists: another appender won."""

    async def entries(self, chain: str) -> list[AuditEntry]:
        """The whole chain in sequence order."""

    async def entries_of_resource(self, chain: str, resource_id: str, limit: int) -> list[AuditEntry]: ...
