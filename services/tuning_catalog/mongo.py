"""The fine-tuning catalogue in the region's store (database ``TUNING_DATABASE``).

Collections ``tuning_files``, ``tuning_jobs``, ``tuning_job_events``, ``tuning_checkpoints``,
``tuning_models``; every ``_id`` is ``<resource>/<id>`` and every filter names ``resource_id``, so
a query can only ever find the caller's own records. Records map to documents here and nowhere else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.tuning_catalog.model import (
    Checkpoint,
    FileRecord,
    FileStatus,
    FineTunedModel,
    JobError,
    JobEvent,
    JobRecord,
    JobStatus,
    Record,
)

R = TypeVar("R", bound=Record)


class AlreadyExists(Exception):
    """A record with that ID exists."""


def _doc(record: Record, key: str) -> dict[str, Any]:
    data = record.model_dump()
    return {"_id": f"{data['resource_id']}/{key}", **data}


def _record(model: type[R], document: dict[str, Any] | None) -> R | None:
    if document is None:
        return None
    return model.model_validate({k: v for k, v in document.items() if k not in ("_id", "hidden")})


class MongoTuningCatalog:
    def __init__(self, database: AsyncDatabase) -> None:
        self._files = database["tuning_files"]
        self._jobs = database["tuning_jobs"]
        self._events = database["tuning_job_events"]
        self._checkpoints = database["tuning_checkpoints"]
        self._models = database["tuning_models"]

    async def create_indexes(self) -> None:
        for collection in (self._files, self._jobs, self._models):
            await collection.create_index([("resource_id", ASCENDING), ("created_at", DESCENDING)])
        for collection in (self._events, self._checkpoints):
            await collection.create_index([("resource_id", ASCENDING), ("job_id", ASCENDING)])

    # files

    async def insert_file(self, record: FileRecord) -> None:
        try:
            await self._files.insert_one({**_doc(record, record.file_id), "hidden": False})
        except DuplicateKeyError as error:
            raise AlreadyExists(record.file_id) from error

    async def get_file(self, resource_id: str, file_id: str) -> FileRecord | None:
        found = await self._files.find_one({"_id": f"{resource_id}/{file_id}", "resource_id": resource_id,
                                            "hidden": False})
        return _record(FileRecord, found)

    async def list_files(self, resource_id: str, *, purpose: str | None = None, limit: int = 10000) -> list[FileRecord]:
        query: dict[str, Any] = {"resource_id": resource_id, "hidden": False}
        if purpose is not None:
            query["purpose"] = purpose
        cursor = self._files.find(query).sort("created_at", DESCENDING).limit(limit)
        return [r for d in await cursor.to_list() if (r := _record(FileRecord, d)) is not None]

    async def set_file_status(self, resource_id: str, file_id: str, status: FileStatus, details: str | None,
                              examples: int | None = None) -> bool:
        result = await self._files.update_one(
            {"_id": f"{resource_id}/{file_id}", "resource_id": resource_id},
            {"$set": {"status": status, "status_details": details, "examples": examples}})
        return result.matched_count == 1

    async def hide_file(self, resource_id: str, file_id: str) -> bool:
        result = await self._files.update_one(
            {"_id": f"{resource_id}/{file_id}", "resource_id": resource_id, "hidden": False},
            {"$set": {"hidden": True}})
        return result.matched_count == 1

    async def remove_file(self, resource_id: str, file_id: str) -> None:
        await self._files.delete_one({"_id": f"{resource_id}/{file_id}", "resource_id": resource_id})

    # jobs

    async def insert_job(self, record: JobRecord) -> None:
        await self._jobs.insert_one(_doc(record, record.job_id))

    async def get_job(self, resource_id: str, job_id: str) -> JobRecord | None:
        return _record(JobRecord, await self._jobs.find_one({"_id": f"{resource_id}/{job_id}",
                                                               "resource_id": resource_id}))

    async def list_jobs(self, resource_id: str, *, limit: int) -> list[JobRecord]:
        cursor = self._jobs.find({"resource_id": resource_id}).sort("created_at", DESCENDING).limit(limit)
        return [r for d in await cursor.to_list() if (r := _record(JobRecord, d)) is not None]

    async def claim_job(self, resource_id: str, job_id: str, worker: str, now: datetime) -> JobRecord | None:
        found = await self._jobs.find_one_and_update(
            {"_id": f"{resource_id}/{job_id}", "resource_id": resource_id, "status": "queued"},
            {"$set": {"status": "running", "worker": worker, "started_at": now, "heartbeat_at": now}},
            return_document=ReturnDocument.AFTER)
        return _record(JobRecord, found)

    async def beat(self, resource_id: str, job_id: str, worker: str, now: datetime) -> bool:
        result = await self._jobs.update_one(
            {"_id": f"{resource_id}/{job_id}", "resource_id": resource_id, "status": "running", "worker": worker},
            {"$set": {"heartbeat_at": now}})
        return result.matched_count == 1

    async def finish_job(self, resource_id: str, job_id: str, worker: str | None, status: JobStatus, now: datetime, *,
                         fine_tuned_model: str | None = None, trained_tokens: int | None = None,
                         error: JobError | None = None, result_files: list[str] | None = None) -> bool:
        query: dict[str, Any] = {"_id": f"{resource_id}/{job_id}", "resource_id": resource_id, "status": "running"}
        if worker is not None:
            query["worker"] = worker
        result = await self._jobs.update_one(query, {"$set": {
            "status": status, "finished_at": now, "fine_tuned_model": fine_tuned_model,
            "trained_tokens": trained_tokens, "error": None if error is None else error.model_dump(),
            "result_files": result_files or []}})
        return result.matched_count == 1

    async def cancel_job(self, resource_id: str, job_id: str, now: datetime) -> JobRecord | None:
        found = await self._jobs.find_one_and_update(
            {"_id": f"{resource_id}/{job_id}", "resource_id": resource_id,
             "status": {"$in": ["validating_files", "queued", "running"]}},
            {"$set": {"status": "cancelled", "finished_at": now}}, return_document=ReturnDocument.AFTER)
        return _record(JobRecord, found)

    # events, checkpoints, models

    async def add_event(self, event: JobEvent) -> None:
        await self._events.replace_one({"_id": f"{event.resource_id}/{event.event_id}",
                                        "resource_id": event.resource_id}, _doc(event, event.event_id), upsert=True)

    async def remove_event(self, resource_id: str, event_id: str) -> None:
        await self._events.delete_one({"_id": f"{resource_id}/{event_id}", "resource_id": resource_id})

    async def list_events(self, resource_id: str, job_id: str, *, limit: int) -> list[JobEvent]:
        cursor = (self._events.find({"resource_id": resource_id, "job_id": job_id})
                  .sort("sequence", DESCENDING).limit(limit))
        return [r for d in await cursor.to_list() if (r := _record(JobEvent, d)) is not None]

    async def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        await self._checkpoints.replace_one(
            {"_id": f"{checkpoint.resource_id}/{checkpoint.checkpoint_id}", "resource_id": checkpoint.resource_id},
            _doc(checkpoint, checkpoint.checkpoint_id), upsert=True)

    async def list_checkpoints(self, resource_id: str, job_id: str, *, limit: int) -> list[Checkpoint]:
        cursor = (self._checkpoints.find({"resource_id": resource_id, "job_id": job_id})
                  .sort("step_number", DESCENDING).limit(limit))
        return [r for d in await cursor.to_list() if (r := _record(Checkpoint, d)) is not None]

    async def put_model(self, model: FineTunedModel) -> None:
        await self._models.replace_one({"_id": f"{model.resource_id}/{model.name}", "resource_id": model.resource_id},
                                       {**_doc(model, model.name), "hidden": False}, upsert=True)

    async def get_model(self, resource_id: str, name: str) -> FineTunedModel | None:
        return _record(FineTunedModel, await self._models.find_one({"_id": f"{resource_id}/{name}",
                                                                      "resource_id": resource_id, "hidden": False}))

    async def hide_model(self, resource_id: str, name: str) -> bool:
        result = await self._models.update_one(
            {"_id": f"{resource_id}/{name}", "resource_id": resource_id, "hidden": False}, {"$set": {"hidden": True}})
        return result.matched_count == 1

    async def remove_model(self, resource_id: str, name: str) -> None:
        await self._models.delete_one({"_id": f"{resource_id}/{name}", "resource_id": resource_id})

    async def file_recorded(self, resource_id: str, file_id: str) -> bool:
        return await self._files.count_documents({"_id": f"{resource_id}/{file_id}", "resource_id": resource_id},
                                                 limit=1) > 0

    async def model_recorded(self, resource_id: str, name: str) -> bool:
        return await self._models.count_documents({"_id": f"{resource_id}/{name}", "resource_id": resource_id},
                                                  limit=1) > 0
