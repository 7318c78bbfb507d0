"""Wrapped data keys (``tuning_keys``) and sealed chunks (``tuning_chunks``) in the region's store.

Every ``_id`` starts with the resource ID and every filter names ``resource_id``, but one: the
orphan sweep's ``unowned_keys_before``, which reads IDs only (tests/unit/test_tuning_query_scoping.py
holds it to that).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from bson import Binary
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.tuning_catalog.ports import SealedChunk, StoredKey


class MongoSealedObjects:
    def __init__(self, database: AsyncDatabase) -> None:
        self._keys = database["tuning_keys"]
        self._chunks = database["tuning_chunks"]

    async def create_indexes(self) -> None:
        await self._chunks.create_index([("resource_id", ASCENDING), ("object_id", ASCENDING),
                                         ("sequence", ASCENDING)])
        await self._keys.create_index([("created_at", ASCENDING)])

    async def insert_key(self, resource_id: str, object_id: str, key: StoredKey, now: datetime) -> bool:
        try:
            await self._keys.insert_one({
                "_id": f"{resource_id}/{object_id}", "resource_id": resource_id, "object_id": object_id,
                "wrapping_key_id": key.wrapping_key_id, "customer_key_id": key.customer_key_id,
                "wrapped": Binary(key.wrapped or b""), "created_at": now, "destroyed_at": None, "owned": False})
        except DuplicateKeyError:
            return False
        return True

    async def get_key(self, resource_id: str, object_id: str) -> StoredKey | None:
        found = await self._keys.find_one({"_id": f"{resource_id}/{object_id}", "resource_id": resource_id})
        if found is None:
            return None
        wrapped = found.get("wrapped")
        live = wrapped and not found.get("destroyed_at")
        return StoredKey(found["wrapping_key_id"], bytes(wrapped) if live else None, found.get("customer_key_id"))

    async def destroy_key(self, resource_id: str, object_id: str, now: datetime) -> None:
        await self._keys.update_one({"_id": f"{resource_id}/{object_id}", "resource_id": resource_id},
                                    {"$set": {"destroyed_at": now}, "$unset": {"wrapped": ""}})

    async def put_chunk(self, resource_id: str, object_id: str, chunk: SealedChunk) -> None:
        _id = f"{resource_id}/{object_id}/{chunk.sequence:09d}"
        await self._chunks.replace_one({"_id": _id, "resource_id": resource_id}, {
            "_id": _id, "resource_id": resource_id, "object_id": object_id, "sequence": chunk.sequence,
            "nonce": Binary(chunk.nonce), "ciphertext": Binary(chunk.ciphertext)}, upsert=True)

    async def chunks(self, resource_id: str, object_id: str) -> AsyncIterator[SealedChunk]:
        cursor = self._chunks.find({"resource_id": resource_id, "object_id": object_id}).sort("sequence", ASCENDING)
        async for d in cursor:
            yield SealedChunk(int(d["sequence"]), bytes(d["nonce"]), bytes(d["ciphertext"]))

    async def delete_chunks(self, resource_id: str, object_id: str) -> None:
        await self._chunks.delete_many({"resource_id": resource_id, "object_id": object_id})

    async def unowned_keys_before(self, cutoff: datetime, *, limit: int) -> list[tuple[str, str]]:
        query: dict[str, Any] = {"destroyed_at": None, "owned": {"$ne": True}, "created_at": {"$lt": cutoff}}
        cursor = self._keys.find(query, projection={"_id": 0, "resource_id": 1, "object_id": 1}).limit(limit)
        return [(d["resource_id"], d["object_id"]) for d in await cursor.to_list()]

    async def mark_owned(self, resource_id: str, object_id: str) -> None:
        await self._keys.update_one({"_id": f"{resource_id}/{object_id}", "resource_id": resource_id},
                                    {"$set": {"owned": True}})
