"""Records in the region's MongoDB-protocol store (works on MongoDB and FerretDB v1).

Every query names a resource ID and every index leads with it; the sweep, which looks for expired
records across resources, goes resource by resource. No TTL index (FerretDB v1 has none).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.retention.model import SignalRecord

COLLECTION = "records"


class MongoRecordStore:
    def __init__(self, database: AsyncDatabase) -> None:
        self._records = database[COLLECTION]

    async def create_indexes(self) -> None:
        await self._records.create_index([("resource_id", ASCENDING), ("request_id", ASCENDING)], unique=True)
        await self._records.create_index([("resource_id", ASCENDING), ("expires_at", ASCENDING)])
        await self._records.create_index([("resource_id", ASCENDING), ("has_signals", ASCENDING),
                                          ("completed_at", ASCENDING)])

    async def put_record(self, record: dict[str, Any]) -> bool:
        try:
            await self._records.insert_one(dict(record))
        except DuplicateKeyError:
            return False
        return True

    async def get_record(self, resource_id: str, request_id: str) -> dict[str, Any] | None:
        return await self._records.find_one({"resource_id": resource_id, "request_id": request_id})

    async def signal_history(self, resource_id: str, since: datetime, until: datetime) -> list[SignalRecord]:
        cursor = self._records.find(
            {"resource_id": resource_id, "has_signals": True, "completed_at": {"$gte": since, "$lte": until}},
            {"request_id": 1, "end_user": 1, "completed_at": 1, "signals": 1, "expires_at": 1},
        ).sort("completed_at", ASCENDING).limit(10_000)
        return [SignalRecord(d["request_id"], d.get("end_user"), d["completed_at"], tuple(d["signals"]),
                             d["expires_at"]) async for d in cursor]

    async def mark_flagged(self, resource_id: str, request_ids: Sequence[str], flag_id: str) -> None:
        await self._records.update_many({"resource_id": resource_id, "request_id": {"$in": list(request_ids)}},
                                        {"$set": {"flagged": True}, "$addToSet": {"flag_ids": flag_id}})

    async def delete_expired(self, now: datetime) -> int:
        deleted = 0
        for resource_id in await self._records.distinct("resource_id"):
            result = await self._records.delete_many({"resource_id": resource_id, "expires_at": {"$lte": now}})
            deleted += result.deleted_count
        return deleted

    async def delete_completed_before(self, resource_id: str, before: datetime) -> int:
        result = await self._records.delete_many({"resource_id": resource_id, "completed_at": {"$lt": before}})
        return result.deleted_count

    async def delete_resource(self, resource_id: str) -> int:
        return (await self._records.delete_many({"resource_id": resource_id})).deleted_count

    async def count_resource(self, resource_id: str) -> int:
        return await self._records.count_documents({"resource_id": resource_id})
