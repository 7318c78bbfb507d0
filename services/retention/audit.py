"""The append-only, hash-chained audit log of every review access attempt, granted or refused.

Entry n holds the SHA-256 of entry n-1; its own hash covers every field (chain, sequence, time,
actor, workstation, action, outcome, reason, IDs, previous hash). Editing, removing or reordering
an entry breaks the chain from that point; ``verify`` finds the first broken entry.

FerretDB has no transactions, so appenders race on the store's unique (chain, sequence) index:
each reads the head, builds entry head+1 and inserts it; the loser of a race gets a duplicate key,
reads the new head and tries again. The chain never forks.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from services.retention.errors import AuditUnavailable
from services.retention.model import AuditEntry, AuditEvent
from services.retention.ports import AuditStore, Clock

GENESIS = "0" * 64
MAX_ATTEMPTS = 200


def chain_of(region: str) -> str:
    return f"review/{region}"


def timestamp(moment: datetime) -> str:
    """Millisecond ISO time (what MongoDB keeps), stored as text so the hash input is exact."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def entry_hash(chain: str, sequence: int, at: str, event: AuditEvent, prev_hash: str) -> str:
    body = {"chain": chain, "sequence": sequence, "at": at, "event": asdict(event), "prev_hash": prev_hash}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def next_entry(chain: str, head: AuditEntry | None, event: AuditEvent, at: datetime) -> AuditEntry:
    sequence = head.sequence + 1 if head else 0
    prev_hash = head.hash if head else GENESIS
    stamp = timestamp(at)
    return AuditEntry(chain=chain, sequence=sequence, at=stamp, event=event, prev_hash=prev_hash,
                      hash=entry_hash(chain, sequence, stamp, event, prev_hash))


class AuditLog:
    def __init__(self, store: AuditStore, chain: str, clock: Clock) -> None:
        self._store = store
        self.chain = chain
        self._clock = clock

    async def append(self, event: AuditEvent) -> AuditEntry:
        for attempt in range(MAX_ATTEMPTS):
            entry = next_entry(self.chain, await self._store.head(self.chain), event, self._clock())
            if await self._store.insert_entry(entry):
                return entry
            # Lost a race for this sequence number; back off a little so racers spread out.
            await asyncio.sleep(random.uniform(0, 0.002 * min(attempt + 1, 20)))
        raise AuditUnavailable(f"could not append to {self.chain} after {MAX_ATTEMPTS} attempts")

    async def verify(self) -> Verification:
        return verify_chain(self.chain, await self._store.entries(self.chain))


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    head_hash: str
    first_bad_sequence: int | None = None
    problem: str | None = None


def verify_chain(chain: str, entries: list[AuditEntry]) -> Verification:
    """Checks sequence numbers (0, 1, 2, … with no gap), links and hashes, in order."""
    prev_hash = GENESIS
    for expected, entry in enumerate(entries):
        problem = None
        if entry.chain != chain or entry.sequence != expected:
            problem = f"expected sequence {expected}, found {entry.sequence}"
        elif entry.prev_hash != prev_hash:
            problem = "does not link to the previous entry"
        elif entry.hash != entry_hash(entry.chain, entry.sequence, entry.at, entry.event, entry.prev_hash):
            problem = "content does not match its hash (edited)"
        if problem:
            return Verification(False, len(entries), prev_hash, expected, problem)
        prev_hash = entry.hash
    return Verification(True, len(entries), prev_hash)
