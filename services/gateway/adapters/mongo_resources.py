"""Resources in the control-plane store (MongoDB or FerretDB v1). Keys exist here only as hashes.

Each key slot is a document of its own in ``resource_keys`` (``_id`` = ``<resource>/<slot>``), so
regenerating one slot writes one document and touches nothing of the other. Keeping both slots in
the resource document made a regeneration read-modify-write both: concurrent key1 and key2
regenerations each wrote back the other's old hash. FerretDB v1 does not serialise even single
updates of one document (concurrent ``$set``s of two fields lose one), so separate documents are
what makes a slot's update atomic on both stores.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from services.gateway.resources import KEY_SLOTS, KeySlot, Resource

COLLECTION = "resources"
KEYS_COLLECTION = "resource_keys"
_LEGACY_KEY_FIELDS = ("key_slots", "key_hashes")  # where keys lived before resource_keys


class MongoResourceDirectory:
    def __init__(self, client: AsyncMongoClient, database: str) -> None:
        self._client = client
        self._resources = client[database][COLLECTION]
        self._keys = client[database][KEYS_COLLECTION]

    async def close(self) -> None:
        await self._client.close()

    async def create_indexes(self) -> None:
        await self._keys.create_index([("key_hash", ASCENDING)])
        await self._move_legacy_keys()

    async def _move_legacy_keys(self) -> None:
        """Keys of resources made before resource_keys move there once (idempotent; a slot
        already in resource_keys, e.g. regenerated meanwhile, is kept)."""
        async for document in self._resources.find({"key_slots": {"$exists": True}}):
            for slot, key_hash in document["key_slots"].items():
                await self._put_slot(document["_id"], slot, key_hash, replace=False)
            await self._resources.update_one({"_id": document["_id"]},
                                             {"$unset": dict.fromkeys(_LEGACY_KEY_FIELDS, "")})

    async def _put_slot(self, resource_id: str, slot: str, key_hash: str, *, replace: bool = True) -> None:
        document = {"resource_id": resource_id, "slot": slot, "key_hash": key_hash}
        update = {"$set": document} if replace else {"$setOnInsert": document}
        for attempt in (1, 2):  # two writers creating the same slot: one insert wins, the other retries
            try:
                await self._keys.update_one({"_id": f"{resource_id}/{slot}"}, update, upsert=True)
                return
            except DuplicateKeyError:
                if attempt == 2:
                    raise

    @staticmethod
    def _to_resource(document: dict[str, Any] | None) -> Resource | None:
        if document is None:
            return None
        return Resource(resource_id=document["_id"], region=document["region"],
                        content_logging=document["content_logging"], deployments=document["deployments"],
                        limits=document.get("limits") or {}, created_at=document["created_at"])

    @staticmethod
    def _fields(resource: Resource) -> dict[str, Any]:
        data = resource.model_dump()
        data.pop("resource_id")
        return data

    async def find_by_key_hash(self, key_hash: str) -> Resource | None:
        key = await self._keys.find_one({"key_hash": key_hash})
        return None if key is None else await self.get(key["resource_id"])

    async def get(self, resource_id: str) -> Resource | None:
        return self._to_resource(await self._resources.find_one({"_id": resource_id}))

    async def create(self, resource: Resource, key_hashes: dict[KeySlot, str]) -> bool:
        try:
            await self._resources.insert_one({"_id": resource.resource_id, **self._fields(resource)})
        except DuplicateKeyError:
            return False
        for slot in KEY_SLOTS:
            await self._put_slot(resource.resource_id, slot, key_hashes[slot])
        return True

    async def replace(self, resource: Resource) -> bool:
        result = await self._resources.update_one({"_id": resource.resource_id}, {"$set": self._fields(resource)})
        return result.matched_count == 1

    async def set_key_hash(self, resource_id: str, slot: KeySlot, key_hash: str) -> bool:
        if await self._resources.find_one({"_id": resource_id}, projection={"_id": 1}) is None:
            return False
        await self._put_slot(resource_id, slot, key_hash)
        return True

    async def delete(self, resource_id: str) -> bool:
        deleted = (await self._resources.delete_one({"_id": resource_id})).deleted_count == 1
        await self._keys.delete_many({"resource_id": resource_id})
        return deleted
