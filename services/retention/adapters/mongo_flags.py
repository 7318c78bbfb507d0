"""Flags in the region's store (collection ``flags``): one document per raised flag, ID-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.retention.model import Flag

COLLECTION = "flags"


def _from_document(d: dict[str, Any]) -> Flag:
    return Flag(flag_id=d["_id"], resource_id=d["resource_id"], rule=d["rule"], end_user=d.get("end_user"),
                request_ids=tuple(d["request_ids"]), window_start=d["window_start"], window_end=d["window_end"],
                raised_at=d["raised_at"], expires_at=d["expires_at"], window_count=d.get("window_count", 0))


class MongoFlagStore:
    def __init__(self, database: AsyncDatabase) -> None:
        self._flags = database[COLLECTION]

    async def create_indexes(self) -> None:
        await self._flags.create_index([("resource_id", ASCENDING), ("expires_at", ASCENDING)])
        await self._flags.create_index([("resource_id", ASCENDING), ("window_end", ASCENDING)])
        await self._flags.create_index([("raised_at", DESCENDING)])

    async def raise_flag(self, flag: Flag) -> bool:
        document = {"_id": flag.flag_id, "resource_id": flag.resource_id, "rule": flag.rule,
                    "end_user": flag.end_user, "request_ids": list(flag.request_ids),
                    "window_start": flag.window_start, "window_end": flag.window_end,
                    "raised_at": flag.raised_at, "expires_at": flag.expires_at, "window_count": flag.window_count}
        try:
            await self._flags.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    async def list_flags(self, limit: int) -> list[Flag]:
        cursor = self._flags.find({}).sort("raised_at", DESCENDING).limit(limit)
        return [_from_document(d) async for d in cursor]

    async def delete_expired(self, now: datetime) -> int:
        deleted = 0
        for resource_id in await self._flags.distinct("resource_id"):
            result = await self._flags.delete_many({"resource_id": resource_id, "expires_at": {"$lte": now}})
            deleted += result.deleted_count
        return deleted

    async def delete_ended_before(self, resource_id: str, before: datetime) -> int:
        result = await self._flags.delete_many({"resource_id": resource_id, "window_end": {"$lt": before}})
        return result.deleted_count

    async def delete_resource(self, resource_id: str) -> int:
        return (await self._flags.delete_many({"resource_id": resource_id})).deleted_count
