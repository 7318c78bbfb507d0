"""The expiry sweep (FerretDB has no TTL indexes): destroy expired day keys, delete expired data.

Keys go first: once a day's key is destroyed its records are unreadable, so a sweep that stops
half-way (or lags) leaves ciphertext nobody can open, never readable expired content. A lowered
per-resource retention applies here to data already stored. Run periodically inside the service
(``sweep_interval_s``) and on demand with ``just retention sweep``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from services.retention.keyring import Keyring
from services.retention.ports import Clock, FlagStore, GrantStore, PolicyStore, RecordStore
from services.retention.stored import StoredPorts, sweep_stored
from services.retention.window import oldest_kept_day
from services.runtime.periodic import repeat

log = logging.getLogger("residency.retention.sweep")


@dataclass(frozen=True)
class SweepPorts:
    records: RecordStore
    keyring: Keyring
    policies: PolicyStore
    flags: FlagStore
    grants: GrantStore
    clock: Clock
    max_retention_days: int
    stored: StoredPorts | None = None  # stored completions: their own keys, their own 30 days


@dataclass(frozen=True)
class SweepReport:
    keys_destroyed: int = 0
    records_deleted: int = 0
    flags_deleted: int = 0
    grants_deleted: int = 0


async def apply_retention(resource_id: str, days: int, ports: SweepPorts) -> SweepReport:
    """Destroy and delete what a resource's own, lower retention no longer covers."""
    if days >= ports.max_retention_days:
        return SweepReport()
    oldest = oldest_kept_day(ports.clock(), days)
    keys = await ports.keyring.destroy_resource(resource_id, "retention lowered", day_start_before=oldest)
    records = await ports.records.delete_completed_before(resource_id, oldest)
    flags = await ports.flags.delete_ended_before(resource_id, oldest)
    return SweepReport(keys, records, flags)


async def sweep(ports: SweepPorts) -> SweepReport:
    keys = await ports.keyring.destroy_due()
    records = flags = 0
    for resource_id, days in (await ports.policies.all_retention_days()).items():
        lowered = await apply_retention(resource_id, days, ports)
        keys, records, flags = keys + lowered.keys_destroyed, records + lowered.records_deleted, \
            flags + lowered.flags_deleted
    now = ports.clock()
    records += await ports.records.delete_expired(now)
    flags += await ports.flags.delete_expired(now)
    grants = await ports.grants.delete_expired(now)
    if ports.stored is not None:
        stored_keys, stored = await sweep_stored(ports.stored)
        keys, records = keys + stored_keys, records + stored
    report = SweepReport(keys, records, flags, grants)
    if report != SweepReport():
        log.info("sweep: %d keys destroyed, %d records, %d flags, %d grants deleted",
                 keys, records, flags, grants)
    return report


async def sweep_periodically(ports: SweepPorts, interval_s: float) -> None:
    """Sweep every ``interval_s`` until cancelled; a failed sweep is logged and retried next time."""
    await repeat(lambda: sweep(ports), interval_s, log=log, what="sweep")
