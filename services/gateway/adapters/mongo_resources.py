"""Resources in the control-plane store (MongoDB or FerretDB v1). Keys exist here only as hashes."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from services.gateway.resources import KEY_SLOTS, KeySlot, Resource

COLLECTION = "resources"


class MongoResourceDirectory:
    def __init__(self, client: AsyncMongoClient, database: str) -> None:
        self._client = client
        self._resources = client[database][COLLECTION]

    async def close(self) -> None:
        await self._client.close()

    async def create_indexes(self) -> None:
        await self._resources.create_index([("key_hashes", ASCENDING)])

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
        return self._to_resource(await self._resources.find_one({"key_hashes": key_hash}))

    async def get(self, resource_id: str) -> Resource | None:
        return self._to_resource(await self._resources.find_one({"_id": resource_id}))

    async def create(self, resource: Resource, key_hashes: dict[KeySlot, str]) -> bool:
        document = {"_id": resource.resource_id, **self._fields(resource),
                    "key_slots": dict(key_hashes), "key_hashes": [key_hashes[s] for s in KEY_SLOTS]}
        try:
            await self._resources.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    async def replace(self, resource: Resource) -> bool:
        result = await self._resources.update_one({"_id": resource.resource_id}, {"$set": self._fields(resource)})
        return result.matched_count == 1

    async def set_key_hash(self, resource_id: str, slot: KeySlot, key_hash: str) -> bool:
        document = await self._resources.find_one({"_id": resource_id})
        if document is None:
            return False
        slots = {**document["key_slots"], slot: key_hash}
        result = await self._resources.update_one(
            {"_id": resource_id},
            {"$set": {"key_slots": slots, "key_hashes": [slots[s] for s in KEY_SLOTS]}})
        return result.matched_count == 1

    async def delete(self, resource_id: str) -> bool:
        return (await self._resources.delete_one({"_id": resource_id})).deleted_count == 1
