"""The review rules, as plain async functions of (request, ports). Every attempt is audited.

A reviewer may read a record only if it is flagged, only by its request ID, only with content,
only under a grant they asked for and a *different* person with the approver role approved, only
until the grant expires, and, for records of an EEA region, only if their recorded location is
in the EEA. A refusal is audited before it is raised; content is returned only after its
access was audited, so nothing is served that the log does not show.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from services.retention.audit import AuditLog
from services.retention.errors import AccessRefused, UnreadableRecord
from services.retention.keyring import Keyring
from services.retention.model import AuditEvent, Flag, Grant
from services.retention.ports import Clock, FlagStore, GrantStore, RecordStore
from services.retention.records import associated_data, document_to_sealed
from services.retention.review.identity import Caller

log = logging.getLogger("residency.retention.review")


@dataclass(frozen=True)
class ReviewPorts:
    records: RecordStore
    keyring: Keyring
    grants: GrantStore
    flags: FlagStore
    audit: AuditLog
    clock: Clock
    region_in_eea: bool
    grant_ttl: timedelta


@dataclass(frozen=True)
class Attempt:
    caller: Caller
    action: str
    resource_id: str | None = None
    request_id: str | None = None
    grant_id: str | None = None

    def event(self, outcome: str, reason: str | None = None) -> AuditEvent:
        return AuditEvent(actor=self.caller.actor, workstation=self.caller.workstation or _unregistered(self.caller),
                          action=self.action, outcome=outcome, reason=reason,  # type: ignore[arg-type]
                          resource_id=self.resource_id, request_id=self.request_id, grant_id=self.grant_id)


def _unregistered(caller: Caller) -> str | None:
    return f"unregistered:{caller.certificate_sha256[:16]}" if caller.certificate_sha256 else None


async def refuse(attempt: Attempt, reason: str, ports: ReviewPorts) -> AccessRefused:
    await ports.audit.append(attempt.event("refused", reason))
    log.warning("refused %s by %s: %s", attempt.action, attempt.caller.actor or "unknown", reason)
    return AccessRefused(reason)


async def require_person(attempt: Attempt, role: str, ports: ReviewPorts) -> None:
    caller = attempt.caller
    if caller.workstation is None:
        raise await refuse(attempt, "unregistered_workstation", ports)
    if caller.reviewer is None:
        raise await refuse(attempt, "unauthenticated", ports)
    if role not in caller.reviewer.roles:
        raise await refuse(attempt, "wrong_role", ports)


async def reviewable_record(attempt: Attempt, ports: ReviewPorts) -> dict[str, Any]:
    """The record, if a reviewer may see it at all (before any grant is considered)."""
    assert attempt.caller.reviewer and attempt.resource_id and attempt.request_id
    if ports.region_in_eea and not attempt.caller.reviewer.in_eea:
        raise await refuse(attempt, "location_not_eea", ports)
    record = await ports.records.get_record(attempt.resource_id, attempt.request_id)
    if record is None:
        raise await refuse(attempt, "not_found", ports)
    if not record.get("flagged"):
        raise await refuse(attempt, "not_flagged", ports)
    if record["expires_at"] <= ports.clock():
        raise await refuse(attempt, "record_expired", ports)
    if record.get("content") is None:
        raise await refuse(attempt, "no_content", ports)
    return record


async def list_flags(caller: Caller, ports: ReviewPorts, limit: int = 100) -> list[Flag]:
    attempt = Attempt(caller, "list-flags")
    await require_person(attempt, "reviewer", ports)
    flags = await ports.flags.list_flags(limit)
    await ports.audit.append(attempt.event("granted"))
    return flags


async def request_grant(caller: Caller, resource_id: str, request_id: str, reason: str,
                        ports: ReviewPorts) -> Grant:
    attempt = Attempt(caller, "request-grant", resource_id, request_id)
    await require_person(attempt, "reviewer", ports)
    record = await reviewable_record(attempt, ports)
    grant = Grant(grant_id=f"grant-{secrets.token_hex(8)}", resource_id=resource_id, request_id=request_id,
                  requested_by=caller.actor or "", reason=reason, requested_at=ports.clock(),
                  record_expires_at=record["expires_at"])
    await ports.grants.insert_grant(grant)
    await ports.audit.append(Attempt(caller, "request-grant", resource_id, request_id, grant.grant_id)
                             .event("granted"))
    return grant


async def approve_grant(caller: Caller, grant_id: str, ports: ReviewPorts) -> Grant:
    attempt = Attempt(caller, "approve-grant", grant_id=grant_id)
    await require_person(attempt, "approver", ports)
    grant = await ports.grants.get_grant(grant_id)
    if grant is None:
        raise await refuse(attempt, "not_found", ports)
    attempt = Attempt(caller, "approve-grant", grant.resource_id, grant.request_id, grant_id)
    if grant.requested_by == caller.actor:
        raise await refuse(attempt, "self_approval", ports)
    now = ports.clock()
    expires_at = min(now + ports.grant_ttl, grant.record_expires_at)
    if grant.status != "requested" or not await ports.grants.approve(grant_id, caller.actor or "", now, expires_at):
        raise await refuse(attempt, "already_decided", ports)
    await ports.audit.append(attempt.event("granted"))
    return await ports.grants.get_grant(grant_id) or grant


async def read_record(caller: Caller, resource_id: str, request_id: str, grant_id: str | None,
                      ports: ReviewPorts) -> dict[str, Any]:
    attempt = Attempt(caller, "read-record", resource_id, request_id, grant_id)
    await require_person(attempt, "reviewer", ports)
    record = await reviewable_record(attempt, ports)
    await check_grant(attempt, ports)
    try:
        content = await ports.keyring.open(resource_id, document_to_sealed(record["content"]),
                                           associated_data(resource_id, request_id))
    except UnreadableRecord:
        log.error("record %s of resource %s failed to decrypt; reported, not served", request_id, resource_id)
        raise await refuse(attempt, "unreadable_record", ports) from None
    await ports.audit.append(attempt.event("granted"))
    return {"resource_id": resource_id, "request_id": request_id, "grant_id": grant_id,
            "completed_at": record["completed_at"], "end_user": record["end_user"],
            "signals": record["signals"], "flag_ids": record["flag_ids"],
            "prompt_filter_results": record["prompt_filter_results"],
            "completion_filter_results": record["completion_filter_results"], **json.loads(content)}


async def check_grant(attempt: Attempt, ports: ReviewPorts) -> None:
    if not attempt.grant_id:
        raise await refuse(attempt, "no_grant", ports)
    grant = await ports.grants.get_grant(attempt.grant_id)
    if grant is None or (grant.resource_id, grant.request_id) != (attempt.resource_id, attempt.request_id):
        raise await refuse(attempt, "grant_other_record", ports)
    if grant.requested_by != attempt.caller.actor:
        raise await refuse(attempt, "grant_other_reviewer", ports)
    if grant.approved_by == grant.requested_by:
        raise await refuse(attempt, "self_approval", ports)
    if grant.status != "approved" or grant.expires_at is None:
        raise await refuse(attempt, "grant_not_approved", ports)
    if grant.expires_at <= ports.clock():
        raise await refuse(attempt, "grant_expired", ports)
