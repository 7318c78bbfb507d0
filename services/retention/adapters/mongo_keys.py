"""Wrapped data keys in the region's store (collection ``data_keys``).

At most one *active* key per resource and day: a unique index on (resource_id, day, slot) where
an active key's slot is "active" and a destroyed key's slot is its own ID. That is a partial
unique index built from a plain one (FerretDB v1 has no partial indexes). Destroying removes the
key material and keeps the document (IDs and dates only) as evidence.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import Binary
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.retention.model import StoredDataKey

COLLECTION = "data_keys"
ACTIVE = "active"


def _to_document(key: StoredDataKey) -> dict[str, Any]:
    return {"_id": key.key_id, "resource_id": key.resource_id, "day": key.day, "day_start": key.day_start,
            "destroy_at": key.destroy_at, "layers": list(key.layers), "created_at": key.created_at,
            "wrapped": Binary(key.wrapped) if key.wrapped is not None else None,
            "slot": ACTIVE if key.wrapped is not None else key.key_id,
            "destroyed_at": key.destroyed_at, "destroyed_because": key.destroyed_because}


def _from_document(d: dict[str, Any]) -> StoredDataKey:
    return StoredDataKey(key_id=d["_id"], resource_id=d["resource_id"], day=d["day"], day_start=d["day_start"],
                         destroy_at=d["destroy_at"], layers=tuple(d["layers"]),
                         wrapped=bytes(d["wrapped"]) if d.get("wrapped") is not None else None,
                         created_at=d["created_at"], destroyed_at=d.get("destroyed_at"),
                         destroyed_because=d.get("destroyed_because"))


class MongoKeyStore:
    def __init__(self, database: AsyncDatabase, collection: str = COLLECTION) -> None:
        self._keys = database[collection]

    async def create_indexes(self) -> None:
        await self._keys.create_index([("resource_id", ASCENDING), ("day", ASCENDING), ("slot", ASCENDING)],
                                      unique=True)
        await self._keys.create_index([("resource_id", ASCENDING), ("destroy_at", ASCENDING)])

    async def active_key(self, resource_id: str, day: str) -> StoredDataKey | None:
        found = await self._keys.find_one({"resource_id": resource_id, "day": day, "slot": ACTIVE})
        return _from_document(found) if found else None

    async def insert_key(self, key: StoredDataKey) -> bool:
        try:
            await self._keys.insert_one(_to_document(key))
        except DuplicateKeyError:
            return False
        return True

    async def get_key(self, key_id: str) -> StoredDataKey | None:
        found = await self._keys.find_one({"_id": key_id})
        return _from_document(found) if found else None

    async def destroy_due(self, now: datetime) -> int:
        destroyed = 0
        for resource_id in await self._keys.distinct("resource_id", {"slot": ACTIVE}):
            destroyed += await self._destroy({"resource_id": resource_id, "slot": ACTIVE,
                                              "destroy_at": {"$lte": now}}, now, "retention window ended")
        return destroyed

    async def destroy_resource(self, resource_id: str, now: datetime, because: str,
                               day_start_before: datetime | None = None) -> int:
        query: dict[str, Any] = {"resource_id": resource_id, "slot": ACTIVE}
        if day_start_before is not None:
            query["day_start"] = {"$lt": day_start_before}
        return await self._destroy(query, now, because)

    async def _destroy(self, query: dict[str, Any], now: datetime, because: str) -> int:
        destroyed = 0
        for found in await self._keys.find(query, {"_id": 1, "resource_id": 1}).to_list():
            # One update per key: the slot becomes the key's own ID, freeing the day's "active" slot.
            result = await self._keys.update_one(
                {"_id": found["_id"], "resource_id": found["resource_id"], "slot": ACTIVE},
                {"$set": {"wrapped": None, "slot": found["_id"], "destroyed_at": now,
                          "destroyed_because": because}})
            destroyed += result.modified_count
        return destroyed
