"""Rate-limit windows in the control-plane store (MongoDB or FerretDB v1: no TTL index, so old
windows are deleted by the counter itself now and then)."""

from __future__ import annotations

import time

from pymongo import ASCENDING, AsyncMongoClient, ReturnDocument
from pymongo.errors import DuplicateKeyError

COLLECTION = "rate_windows"
CLEAN_EVERY = 200


class MongoWindowCounter:
    def __init__(self, client: AsyncMongoClient, database: str) -> None:
        self._windows = client[database][COLLECTION]
        self._calls = 0

    async def create_indexes(self) -> None:
        await self._windows.create_index([("expires_at", ASCENDING)])

    async def add(self, window: str, requests: int, tokens: int, *, expires_at: float) -> tuple[int, int]:
        self._calls += 1
        if self._calls % CLEAN_EVERY == 0:
            await self._windows.delete_many({"expires_at": {"$lt": time.time()}})
        update = {"$inc": {"requests": requests, "tokens": tokens}, "$setOnInsert": {"expires_at": expires_at}}
        for attempt in (1, 2):  # two replicas creating the same window: one insert wins, the other retries
            try:
                after = await self._windows.find_one_and_update(
                    {"_id": window}, update, upsert=True, return_document=ReturnDocument.AFTER)
                assert after is not None  # an upsert returning the document AFTER always has one
                return after["requests"], after["tokens"]
            except DuplicateKeyError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")
