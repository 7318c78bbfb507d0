"""Records in the region's MongoDB-protocol store (works on MongoDB and FerretDB v1).

Two collections: ``records`` (one document per request, never changed once written) and
``signals``, the flagging fields of the records that carry an abuse signal and their flag state,
so flagging queries and updates touch only that small collection (FerretDB v1 answers most
queries by scanning; MongoDB uses the indexes). ``get_record`` joins the two by ``_id``.
Every query names a resource ID and every index leads with it; the sweep, which looks for expired
records across resources, goes resource by resource. No TTL index (FerretDB v1 has none).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from services.retention.model import SignalRecord
from services.retention.records import record_id, signal_record_of

DUPLICATE_KEY = 11000
SIGNAL_FIELDS = ("_id", "resource_id", "request_id", "end_user", "completed_at", "expires_at", "signals",
                 "signal_kinds", "flag_ids", "flag_rules")
FLAG_FIELDS = ("flagged", "flag_ids", "flag_rules")


async def insert_once(collection: AsyncCollection, documents: Sequence[dict[str, Any]]) -> int:
    """Insert what is not there yet (by _id / unique index); returns how many were new."""
    if not documents:
        return 0
    try:
        return len((await collection.insert_many([dict(d) for d in documents], ordered=False)).inserted_ids)
    except BulkWriteError as error:
        if any(e["code"] != DUPLICATE_KEY for e in error.details["writeErrors"]):
            raise
        return error.details["nInserted"]


class MongoRecordStore:
    def __init__(self, database: AsyncDatabase) -> None:
        self._records = database["records"]
        self._signals = database["signals"]

    async def create_indexes(self) -> None:
        await self._records.create_index([("resource_id", ASCENDING), ("request_id", ASCENDING)], unique=True)
        await self._records.create_index([("resource_id", ASCENDING), ("expires_at", ASCENDING)])
        await self._records.create_index([("resource_id", ASCENDING), ("completed_at", ASCENDING)])
        await self._signals.create_index([("resource_id", ASCENDING), ("signal_kinds", ASCENDING),
                                          ("completed_at", ASCENDING)])
        await self._signals.create_index([("resource_id", ASCENDING), ("end_user", ASCENDING),
                                          ("completed_at", ASCENDING)])
        await self._signals.create_index([("resource_id", ASCENDING), ("expires_at", ASCENDING)])

    async def put_record(self, record: dict[str, Any]) -> bool:
        return await self.put_records([record]) == 1

    async def put_records(self, records: Sequence[dict[str, Any]]) -> int:
        inserted = await insert_once(self._records, [{k: v for k, v in r.items() if k not in FLAG_FIELDS}
                                                      for r in records])
        # Signals after records: a crash in between is repaired by the redelivery (insert_once).
        await insert_once(self._signals, [{k: r[k] for k in SIGNAL_FIELDS} for r in records if r["has_signals"]])
        return inserted

    async def get_record(self, resource_id: str, request_id: str) -> dict[str, Any] | None:
        # By _id (which starts with the resource ID): FerretDB answers that without a scan.
        found = await self._records.find_one({"_id": record_id(resource_id, request_id)})
        if found is None or found["resource_id"] != resource_id:
            return None
        signal = await self._signals.find_one({"_id": found["_id"]}) if found["has_signals"] else None
        flags = {"flag_ids": signal.get("flag_ids", []), "flag_rules": signal.get("flag_rules", [])} if signal \
            else {"flag_ids": [], "flag_rules": []}
        return {**found, **flags, "flagged": bool(flags["flag_ids"])}

    async def signal_history(self, resource_id: str, since: datetime, until: datetime, *, kind: str | None,
                             end_user: str | None, limit: int) -> list[SignalRecord]:
        query: dict[str, Any] = {"resource_id": resource_id, "completed_at": {"$gt": since, "$lte": until}}
        if kind:
            query["signal_kinds"] = kind
        if end_user is not None:
            query["end_user"] = end_user
        cursor = self._signals.find(query).sort("completed_at", DESCENDING).limit(limit)
        return [signal_record_of(d) async for d in cursor][::-1]

    async def mark_flagged(self, resource_id: str, request_ids: Sequence[str], flag_id: str, rule: str) -> None:
        for request_id in request_ids:
            await self._signals.update_one({"_id": record_id(resource_id, request_id), "resource_id": resource_id},
                                           {"$addToSet": {"flag_ids": flag_id, "flag_rules": rule}})

    async def delete_expired(self, now: datetime) -> int:
        deleted = 0
        for resource_id in await self._records.distinct("resource_id"):
            query = {"resource_id": resource_id, "expires_at": {"$lte": now}}
            deleted += (await self._records.delete_many(query)).deleted_count
            await self._signals.delete_many(query)
        return deleted

    async def delete_completed_before(self, resource_id: str, before: datetime) -> int:
        query = {"resource_id": resource_id, "completed_at": {"$lt": before}}
        await self._signals.delete_many(query)
        return (await self._records.delete_many(query)).deleted_count

    async def delete_resource(self, resource_id: str) -> int:
        await self._signals.delete_many({"resource_id": resource_id})
        return (await self._records.delete_many({"resource_id": resource_id})).deleted_count

    async def count_resource(self, resource_id: str) -> int:
        return await self._records.count_documents({"resource_id": resource_id})
