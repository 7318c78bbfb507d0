"""Rate-limit windows in the control-plane store (MongoDB or FerretDB v1: no TTL index, so old
windows are deleted by the counter itself now and then).

FerretDB v1 does not serialise concurrent updates of one document: 50 concurrent ``$inc`` of one
counter left it at 5, so a limit counted in one shared document lets most of a burst through.
Each replica therefore counts in a document of its own per window (``<window>#<replica>``), and
updates it one at a time (a lock per window inside the process): no document is ever written by
two writers at once. A window's count is the sum over the replicas' documents, read after this
replica's own increment, so the request that crosses a limit always sees it crossed.
"""

from __future__ import annotations

import asyncio
import time
import zlib

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.errors import DuplicateKeyError

COLLECTION = "rate_windows"
CLEAN_EVERY = 200
LOCKS = 64  # windows share these by hash: a fixed number of locks, however many windows come and go


class MongoWindowCounter:
    def __init__(self, client: AsyncMongoClient, database: str, replica_id: str) -> None:
        self._windows = client[database][COLLECTION]
        self._replica_id = replica_id
        self._locks = [asyncio.Lock() for _ in range(LOCKS)]
        self._calls = 0

    async def create_indexes(self) -> None:
        await self._windows.create_index([("expires_at", ASCENDING)])
        await self._windows.create_index([("window", ASCENDING)])

    async def add(self, window: str, requests: int, tokens: int, *, expires_at: float) -> tuple[int, int]:
        self._calls += 1
        if self._calls % CLEAN_EVERY == 0:
            await self._windows.delete_many({"expires_at": {"$lt": time.time()}})
        update = {"$inc": {"requests": requests, "tokens": tokens},
                  "$setOnInsert": {"window": window, "expires_at": expires_at}}
        async with self._locks[zlib.crc32(window.encode()) % LOCKS]:
            for attempt in (1, 2):  # a leftover document of a replica with the same ID: retry once
                try:
                    await self._windows.update_one({"_id": f"{window}#{self._replica_id}"}, update, upsert=True)
                    break
                except DuplicateKeyError:
                    if attempt == 2:
                        raise
            shares = [share async for share in self._windows.find({"window": window}, {"requests": 1, "tokens": 1})]
        return sum(s["requests"] for s in shares), sum(s["tokens"] for s in shares)
