"""Records in the region's MongoDB-protocol store (works on MongoDB and FerretDB v1)."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.errors import DuplicateKeyError

COLLECTION = "records"


class MongoRecordStore:
    def __init__(self, client: AsyncMongoClient, database: str) -> None:
        self._client = client
        self._records = client[database][COLLECTION]

    async def close(self) -> None:
        await self._client.close()

    async def create_indexes(self) -> None:
        # Indexes lead with the resource ID: every query is scoped by it. No TTL index
        # (FerretDB v1 has none): an expiry sweep and key destruction enforce the window.
        await self._records.create_index([("resource_id", ASCENDING), ("request_id", ASCENDING)], unique=True)
        await self._records.create_index([("resource_id", ASCENDING), ("expires_at", ASCENDING)])

    async def put_record(self, record: dict[str, Any]) -> bool:
        try:
            await self._records.insert_one(dict(record))
        except DuplicateKeyError:
            return False
        return True

    async def get_record(self, resource_id: str, request_id: str) -> dict[str, Any] | None:
        return await self._records.find_one({"resource_id": resource_id, "request_id": request_id})
