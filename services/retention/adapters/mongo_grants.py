"""Review grants in the region's store (collection ``grants``)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.retention.model import Grant

COLLECTION = "grants"


def _from_document(d: dict[str, Any]) -> Grant:
    fields = {k: v for k, v in d.items() if k != "_id"}
    return Grant(grant_id=d["_id"], **fields)


class MongoGrantStore:
    def __init__(self, database: AsyncDatabase) -> None:
        self._grants = database[COLLECTION]

    async def create_indexes(self) -> None:
        await self._grants.create_index([("resource_id", ASCENDING), ("request_id", ASCENDING)])
        await self._grants.create_index([("resource_id", ASCENDING), ("record_expires_at", ASCENDING)])

    async def insert_grant(self, grant: Grant) -> None:
        document = asdict(grant)
        document["_id"] = document.pop("grant_id")
        await self._grants.insert_one(document)

    async def get_grant(self, grant_id: str) -> Grant | None:
        found = await self._grants.find_one({"_id": grant_id})
        return _from_document(found) if found else None

    async def approve(self, grant_id: str, approver: str, approved_at: datetime, expires_at: datetime) -> bool:
        # Conditional on the status: two approvers racing cannot both change the grant.
        result = await self._grants.update_one(
            {"_id": grant_id, "status": "requested"},
            {"$set": {"status": "approved", "approved_by": approver, "approved_at": approved_at,
                      "expires_at": expires_at}})
        return result.modified_count == 1

    async def delete_expired(self, now: datetime) -> int:
        deleted = 0
        for resource_id in await self._grants.distinct("resource_id"):
            result = await self._grants.delete_many({"resource_id": resource_id,
                                                     "record_expires_at": {"$lte": now}})
            deleted += result.deleted_count
        return deleted

    async def delete_resource(self, resource_id: str) -> int:
        return (await self._grants.delete_many({"resource_id": resource_id})).deleted_count
