"""Values the retention service passes between its handlers, ports and adapters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal


@dataclass(frozen=True)
class SealedContent:
    """AES-256-GCM output: ciphertext with its tag, the nonce, and the data key that sealed it."""

    key_id: str
    nonce: bytes
    ciphertext: bytes


@dataclass(frozen=True)
class StoredDataKey:
    """A per-resource, per-day data key as the key store keeps it: wrapped, never in clear.

    ``layers`` names the wrapping keys from the inside out (``platform:<id>``, then
    ``customer:<id>`` for double encryption). A destroyed key keeps its ID and dates as evidence
    but no key material (``wrapped`` is None).
    """

    key_id: str
    resource_id: str
    day: str
    day_start: datetime
    destroy_at: datetime
    layers: tuple[str, ...]
    wrapped: bytes | None
    created_at: datetime
    destroyed_at: datetime | None = None
    destroyed_because: str | None = None

    @property
    def destroyed(self) -> bool:
        return self.wrapped is None


@dataclass(frozen=True)
class StoredRecords:
    """What the record store did with a batch: how many records were new, and which it refused
    (index in the batch -> the store's error code; e.g. FerretDB refuses a field name with a dot)."""

    inserted: int
    refused: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SignalRecord:
    """What flagging needs of a stored record: no content, only IDs, time and signals."""

    request_id: str
    end_user: str | None
    completed_at: datetime
    signals: tuple[str, ...]
    expires_at: datetime
    flagged_by: tuple[str, ...] = ()  # names of the rules that already flagged it


@dataclass(frozen=True)
class Flag:
    """A pattern one rule found; it names the records (request IDs) that caused it."""

    flag_id: str
    resource_id: str
    rule: str
    end_user: str | None
    request_ids: tuple[str, ...]
    window_start: datetime
    window_end: datetime
    raised_at: datetime
    expires_at: datetime
    window_count: int = 0  # matching records in the window when the flag was raised


GrantStatus = Literal["requested", "approved"]


@dataclass(frozen=True)
class Grant:
    """Just-in-time permission for one reviewer to read one record, approved by someone else."""

    grant_id: str
    resource_id: str
    request_id: str
    requested_by: str
    reason: str
    requested_at: datetime
    record_expires_at: datetime
    status: GrantStatus = "requested"
    approved_by: str | None = None
    approved_at: datetime | None = None
    expires_at: datetime | None = None


Outcome = Literal["granted", "refused"]


@dataclass(frozen=True)
class AuditEvent:
    """One access attempt, before it is chained. Never holds content."""

    actor: str | None
    workstation: str | None
    action: str
    outcome: Outcome
    reason: str | None = None
    resource_id: str | None = None
    request_id: str | None = None
    grant_id: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    """A chained audit entry: its hash covers every other field, including the previous hash."""

    chain: str
    sequence: int
    at: str
    event: AuditEvent
    prev_hash: str
    hash: str
