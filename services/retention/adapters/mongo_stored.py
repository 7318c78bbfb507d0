"""Stored completions in the region's store (collection ``stored_completions``).

``_id`` is ``<resource>/<completion id>`` and every query names the resource first. Metadata is
kept as ``tags`` (each pair as a JSON array text), so a filter on several pairs is one ``$all``
on an indexed array, whatever characters the keys hold (a key with a dot is no field path here).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bson import Binary
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.retention.model import SealedContent
from services.retention.stored import Page, StoredRecord

COLLECTION = "stored_completions"


def _tags(metadata: dict[str, str]) -> list[str]:
    return [json.dumps([key, value], ensure_ascii=False) for key, value in sorted(metadata.items())]


def _to_document(record: StoredRecord) -> dict[str, Any]:
    return {"_id": f"{record.resource_id}/{record.completion_id}", "resource_id": record.resource_id,
            "completion_id": record.completion_id, "model": record.model, "tags": _tags(record.metadata),
            "created_at": record.created_at, "expires_at": record.expires_at, "key_id": record.content.key_id,
            "nonce": Binary(record.content.nonce), "ciphertext": Binary(record.content.ciphertext)}


def _from_document(d: dict[str, Any]) -> StoredRecord:
    return StoredRecord(resource_id=d["resource_id"], completion_id=d["completion_id"], model=d["model"],
                        metadata=dict(json.loads(tag) for tag in d["tags"]), created_at=d["created_at"],
                        expires_at=d["expires_at"],
                        content=SealedContent(d["key_id"], bytes(d["nonce"]), bytes(d["ciphertext"])))


class MongoStoredCompletions:
    def __init__(self, database: AsyncDatabase) -> None:
        self._stored = database[COLLECTION]

    async def create_indexes(self) -> None:
        await self._stored.create_index([("resource_id", ASCENDING), ("created_at", ASCENDING)])
        await self._stored.create_index([("resource_id", ASCENDING), ("tags", ASCENDING)])
        await self._stored.create_index([("expires_at", ASCENDING)])

    async def put(self, record: StoredRecord) -> bool:
        try:
            await self._stored.insert_one(_to_document(record))
        except DuplicateKeyError:
            return False
        return True

    async def find(self, resource_id: str, completion_id: str) -> StoredRecord | None:
        found = await self._stored.find_one({"_id": f"{resource_id}/{completion_id}", "resource_id": resource_id})
        return _from_document(found) if found else None

    async def page(self, resource_id: str, *, model: str | None, metadata: dict[str, str], after: str | None,
                   limit: int, descending: bool) -> Page:
        query: dict[str, Any] = {"resource_id": resource_id}
        if model is not None:
            query["model"] = model
        if metadata:
            query["tags"] = {"$all": _tags(metadata)}
        if after is not None and (cursor := await self.find(resource_id, after)) is not None:
            beyond = "$lt" if descending else "$gt"
            query["$or"] = [{"created_at": {beyond: cursor.created_at}},
                            {"created_at": cursor.created_at, "completion_id": {beyond: cursor.completion_id}}]
        direction = DESCENDING if descending else ASCENDING
        found = await self._stored.find(query).sort([("created_at", direction), ("completion_id", direction)]) \
            .limit(limit + 1).to_list()
        return Page([_from_document(d) for d in found[:limit]], has_more=len(found) > limit)

    async def set_metadata(self, resource_id: str, completion_id: str, metadata: dict[str, str]) -> bool:
        updated = await self._stored.update_one({"_id": f"{resource_id}/{completion_id}", "resource_id": resource_id},
                                                {"$set": {"tags": _tags(metadata)}})
        return updated.matched_count == 1

    async def delete(self, resource_id: str, completion_id: str) -> bool:
        deleted = await self._stored.delete_one({"_id": f"{resource_id}/{completion_id}", "resource_id": resource_id})
        return deleted.deleted_count == 1

    async def delete_expired(self, now: datetime) -> int:
        deleted = await self._stored.delete_many({"expires_at": {"$lte": now}})
        return deleted.deleted_count

    async def delete_resource(self, resource_id: str) -> int:
        deleted = await self._stored.delete_many({"resource_id": resource_id})
        return deleted.deleted_count
