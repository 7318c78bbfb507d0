"""Records in the region's MongoDB-protocol store (works on MongoDB and FerretDB v1).

Two collections: ``records`` (one document per request, never changed once written) and
``signals``, the flagging fields of the records that carry an abuse signal and their flag state,
so flagging queries and updates touch only that small collection (FerretDB v1 answers most
queries by scanning; MongoDB uses the indexes). ``get_record`` joins the two by ``_id``.
Every query names a resource ID first and every index leads with it; the sweep, which looks for
expired records across resources, lists the resource IDs and goes resource by resource. No TTL
index (FerretDB v1 has none).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from services.retention.model import SignalRecord, StoredRecords
from services.retention.records import record_id, signal_record_of
from services.runtime.errors import DependencyUnavailable

DUPLICATE_KEY = 11000
# Write errors that say the server could not take the write now, not that the document is wrong:
# the retryable-writes specification's codes (pymongo.helpers_shared._RETRYABLE_ERROR_CODES).
TRANSIENT_WRITE_ERRORS = frozenset({6, 7, 89, 91, 134, 189, 262, 9001, 10058, 10107, 11600, 11602, 13435, 13436})
SIGNAL_FIELDS = ("_id", "resource_id", "request_id", "end_user", "completed_at", "expires_at", "signals",
                 "signal_kinds", "flag_ids", "flag_rules")
FLAG_FIELDS = ("flagged", "flag_ids", "flag_rules")


async def insert_once(collection: AsyncCollection, documents: Sequence[dict[str, Any]]) -> StoredRecords:
    """Insert what is not there yet (by _id / unique index): how many were new, which were refused.

    The insert is unordered, so one refused document does not stop the others. A write the
    server could not take now (a transient code, or a write concern not met) is an outage:
    DependencyUnavailable, and the caller's whole batch comes again (inserting is idempotent).
    """
    if not documents:
        return StoredRecords(0)
    try:
        result = await collection.insert_many([dict(d) for d in documents], ordered=False)
    except BulkWriteError as error:
        codes = {e["index"]: e["code"] for e in error.details["writeErrors"]}
        if error.details.get("writeConcernErrors") or TRANSIENT_WRITE_ERRORS.intersection(codes.values()):
            raise DependencyUnavailable(f"{collection.name} did not take the write") from error
        return StoredRecords(error.details["nInserted"],
                             {index: code for index, code in codes.items() if code != DUPLICATE_KEY})
    return StoredRecords(len(result.inserted_ids))


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

    async def put_records(self, records: Sequence[dict[str, Any]]) -> StoredRecords:
        stored = await insert_once(self._records, [{k: v for k, v in r.items() if k not in FLAG_FIELDS}
                                                   for r in records])
        # Signals after records: a crash in between is repaired by the redelivery (insert_once).
        with_signals = [i for i, r in enumerate(records) if r["has_signals"] and i not in stored.refused]
        signals = await insert_once(self._signals, [{k: records[i][k] for k in SIGNAL_FIELDS} for i in with_signals])
        refused = {**stored.refused, **{with_signals[j]: code for j, code in signals.refused.items()}}
        return StoredRecords(stored.inserted, refused)

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
            # Signals first, as everywhere here: a sweep stopped in between leaves records, which
            # the next sweep finds; signals left without records would never be listed again.
            await self._signals.delete_many(query)
            deleted += (await self._records.delete_many(query)).deleted_count
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
