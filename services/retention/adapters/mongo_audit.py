"""The audit chain in the region's store (collection ``audit``), unique on (chain, sequence).

The service only ever inserts here; nothing in the code updates or deletes an entry.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.retention.model import AuditEntry, AuditEvent

COLLECTION = "audit"


def _from_document(d: dict[str, Any]) -> AuditEntry:
    return AuditEntry(chain=d["chain"], sequence=d["sequence"], at=d["at"], event=AuditEvent(**d["event"]),
                      prev_hash=d["prev_hash"], hash=d["hash"])


class MongoAuditStore:
    def __init__(self, database: AsyncDatabase) -> None:
        self._audit = database[COLLECTION]

    async def create_indexes(self) -> None:
        await self._audit.create_index([("chain", ASCENDING), ("sequence", ASCENDING)], unique=True)
        await self._audit.create_index([("chain", ASCENDING), ("event.resource_id", ASCENDING),
                                        ("sequence", ASCENDING)])

    async def head(self, chain: str) -> AuditEntry | None:
        found = await self._audit.find_one({"chain": chain}, sort=[("sequence", DESCENDING)])
        return _from_document(found) if found else None

    async def insert_entry(self, entry: AuditEntry) -> bool:
        try:
            await self._audit.insert_one(asdict(entry))
        except DuplicateKeyError:
            return False
        return True

    async def entries(self, chain: str) -> list[AuditEntry]:
        cursor = self._audit.find({"chain": chain}).sort("sequence", ASCENDING)
        return [_from_document(d) async for d in cursor]

    async def entries_of_resource(self, chain: str, resource_id: str, limit: int) -> list[AuditEntry]:
        cursor = self._audit.find({"chain": chain, "event.resource_id": resource_id}) \
            .sort("sequence", DESCENDING).limit(limit)
        return [_from_document(d) async for d in cursor]
