"""What a resource owner can do with its stored data: read who accessed it, lower its retention,
delete all of it at once. Plain async functions of (request, ports), like the handlers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from services.retention.audit import AuditLog
from services.retention.errors import AccessRefused
from services.retention.model import AuditEvent
from services.retention.ports import AuditStore
from services.retention.sweep import SweepPorts, apply_retention

log = logging.getLogger("residency.retention.customer")


@dataclass(frozen=True)
class CustomerPorts:
    sweep: SweepPorts
    audit: AuditLog
    audit_store: AuditStore


def _event(resource_id: str, action: str, reason: str | None = None) -> AuditEvent:
    return AuditEvent(actor=f"customer:{resource_id}", workstation=None, action=action,
                      outcome="granted", reason=reason, resource_id=resource_id)


async def access_log(resource_id: str, ports: CustomerPorts, limit: int = 1000) -> list[dict[str, Any]]:
    """Every review access attempt on the resource's records: who, when, which request, which grant."""
    entries = await ports.audit_store.entries_of_resource(ports.audit.chain, resource_id, limit)
    return [{"sequence": e.sequence, "at": e.at, "actor": e.event.actor, "action": e.event.action,
             "outcome": e.event.outcome, "reason": e.event.reason, "request_id": e.event.request_id,
             "grant_id": e.event.grant_id} for e in entries]


async def delete_content(resource_id: str, ports: CustomerPorts) -> dict[str, int]:
    """Key destruction first (nothing sealed stays readable even if a deletion fails), then deletion."""
    sweep = ports.sweep
    keys = await sweep.keyring.destroy_resource(resource_id, "customer deletion")
    records = await sweep.records.delete_resource(resource_id)
    flags = await sweep.flags.delete_resource(resource_id)
    grants = await sweep.grants.delete_resource(resource_id)
    stored = 0
    if sweep.stored is not None:  # stored completions too: all of the resource's content
        keys += await sweep.stored.keyring.destroy_resource(resource_id, "customer deletion")
        stored = await sweep.stored.store.delete_resource(resource_id)
    await ports.audit.append(_event(resource_id, "customer-delete-content"))
    log.warning("resource %s deleted its content: %d keys destroyed, %d records deleted", resource_id, keys, records)
    return {"keys_destroyed": keys, "records_deleted": records, "flags_deleted": flags, "grants_deleted": grants,
            "stored_completions_deleted": stored}


async def set_retention(resource_id: str, days: int, ports: CustomerPorts) -> dict[str, int]:
    if not 1 <= days <= ports.sweep.max_retention_days:
        raise AccessRefused("retention_out_of_range")
    await ports.sweep.policies.set_retention_days(resource_id, days)
    applied = await apply_retention(resource_id, days, ports.sweep)
    await ports.audit.append(_event(resource_id, "customer-set-retention", reason=f"{days} days"))
    return {"retention_days": days, "keys_destroyed": applied.keys_destroyed,
            "records_deleted": applied.records_deleted}


async def retention(resource_id: str, ports: CustomerPorts) -> dict[str, int]:
    days = await ports.sweep.policies.retention_days(resource_id, fresh=True)  # it may have changed elsewhere
    maximum = ports.sweep.max_retention_days
    return {"retention_days": min(days or maximum, maximum), "maximum_days": maximum}
