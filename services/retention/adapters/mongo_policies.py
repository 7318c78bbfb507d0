"""Per-resource retention in the region's store (collection ``retention_policies``).

Read on every stored interaction, so values are cached briefly; a lowered retention reaches
other replicas within ``cache_s`` and the sweep applies it to stored data regardless. The
owner's own reads (customer API) skip the cache, whichever replica answers them.
"""

from __future__ import annotations

import time

from pymongo.asynchronous.database import AsyncDatabase

from contracts.base import utc_now

COLLECTION = "retention_policies"


class MongoPolicyStore:
    def __init__(self, database: AsyncDatabase, cache_s: float = 30.0) -> None:
        self._policies = database[COLLECTION]
        self._cache_s = cache_s
        self._cache: dict[str, tuple[int | None, float]] = {}

    async def retention_days(self, resource_id: str, *, fresh: bool = False) -> int | None:
        cached = self._cache.get(resource_id)
        if cached and not fresh and time.monotonic() - cached[1] < self._cache_s:
            return cached[0]
        found = await self._policies.find_one({"_id": resource_id})
        days = found["retention_days"] if found else None
        self._cache[resource_id] = (days, time.monotonic())
        return days

    async def set_retention_days(self, resource_id: str, days: int) -> None:
        await self._policies.update_one({"_id": resource_id},
                                        {"$set": {"retention_days": days, "updated_at": utc_now()}}, upsert=True)
        self._cache[resource_id] = (days, time.monotonic())

    async def all_retention_days(self) -> dict[str, int]:
        return {d["_id"]: d["retention_days"] async for d in self._policies.find({})}
