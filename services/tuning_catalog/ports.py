"""The catalogue port; every method names the resource first (see the package docstring)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from services.tuning_catalog.model import (
    Checkpoint,
    FileRecord,
    FileStatus,
    FineTunedModel,
    JobError,
    JobEvent,
    JobRecord,
    JobStatus,
)


class TuningCatalog(Protocol):
    async def insert_file(self, record: FileRecord) -> None: ...

    async def get_file(self, resource_id: str, file_id: str) -> FileRecord | None: ...

    async def list_files(self, resource_id: str, *, purpose: str | None = None, limit: int = 10000) -> list[FileRecord]:
        """Newest first."""

    async def set_file_status(self, resource_id: str, file_id: str, status: FileStatus, details: str | None,
                              examples: int | None = None) -> bool: ...

    async def hide_file(self, resource_id: str, file_id: str) -> bool:
        """Marks the file deleted (no longer listed or readable); False if there was none."""

    async def remove_file(self, resource_id: str, file_id: str) -> None:
        """Removes the record itself (hidden or not), once its content is destroyed."""

    async def insert_job(self, record: JobRecord) -> None: ...

    async def get_job(self, resource_id: str, job_id: str) -> JobRecord | None: ...

    async def list_jobs(self, resource_id: str, *, limit: int) -> list[JobRecord]:
        """Newest first."""

    async def claim_job(self, resource_id: str, job_id: str, worker: str, now: datetime) -> JobRecord | None:
        """``queued`` -> ``running`` by this worker, atomically; None if the job was not queued."""

    async def beat(self, resource_id: str, job_id: str, worker: str, now: datetime) -> bool:
        """Refreshes the heartbeat; False when the job is no longer running by this worker (cancelled)."""

    async def finish_job(self, resource_id: str, job_id: str, worker: str | None, status: JobStatus, now: datetime, *,
                         fine_tuned_model: str | None = None, trained_tokens: int | None = None,
                         error: JobError | None = None, result_files: list[str] | None = None) -> bool:
        """Only a running job (by ``worker``, when named) is finished; False otherwise."""

    async def cancel_job(self, resource_id: str, job_id: str, now: datetime) -> JobRecord | None:
        """``queued`` or ``running`` -> ``cancelled``; None if the job was already finished."""

    async def add_event(self, event: JobEvent) -> None: ...

    async def remove_event(self, resource_id: str, event_id: str) -> None:
        """Withdraws an event written ahead of a status change that did not happen."""

    async def list_events(self, resource_id: str, job_id: str, *, limit: int) -> list[JobEvent]:
        """Newest first."""

    async def add_checkpoint(self, checkpoint: Checkpoint) -> None: ...

    async def list_checkpoints(self, resource_id: str, job_id: str, *, limit: int) -> list[Checkpoint]: ...

    async def put_model(self, model: FineTunedModel) -> None: ...

    async def get_model(self, resource_id: str, name: str) -> FineTunedModel | None:
        """None for a model that does not exist, or was deleted (hidden) by its owner."""

    async def hide_model(self, resource_id: str, name: str) -> bool:
        """Marks the model deleted: no request can use it from now on; False if there was none."""

    async def remove_model(self, resource_id: str, name: str) -> None:
        """Removes the record, once the adapter is shredded."""

    async def file_recorded(self, resource_id: str, file_id: str) -> bool:
        """Whether the file has a record at all (deleted-but-not-yet-shredded ones included)."""

    async def model_recorded(self, resource_id: str, name: str) -> bool:
        """Whether the model has a record at all (deleted-but-not-yet-shredded ones included)."""


@dataclass(frozen=True)
class StoredKey:
    wrapping_key_id: str
    wrapped: bytes | None  # None once destroyed
    customer_key_id: str | None = None  # wrapped again by this customer-managed key (double encryption)


@dataclass(frozen=True)
class SealedChunk:
    sequence: int
    nonce: bytes
    ciphertext: bytes


class SealedObjects(Protocol):
    """Wrapped data keys and sealed chunks in the region's store, by resource and object ID."""

    async def insert_key(self, resource_id: str, object_id: str, key: StoredKey, now: datetime) -> bool:
        """False when the object already has a key (live or destroyed)."""

    async def get_key(self, resource_id: str, object_id: str) -> StoredKey | None: ...

    async def destroy_key(self, resource_id: str, object_id: str, now: datetime) -> None:
        """Removes the wrapped material; the key document stays as evidence."""

    async def put_chunk(self, resource_id: str, object_id: str, chunk: SealedChunk) -> None:
        """Idempotent: the same sequence again replaces it."""

    def chunks(self, resource_id: str, object_id: str) -> AsyncIterator[SealedChunk]:
        """In sequence order."""
        ...

    async def delete_chunks(self, resource_id: str, object_id: str) -> None: ...

    async def unowned_keys_before(self, cutoff: datetime, *, limit: int) -> list[tuple[str, str]]:
        """(resource, object) of live keys made before ``cutoff`` that no record was seen to own yet.

        The one query across resources, for the orphan sweep (services/tuning/orphans.py): it
        returns IDs only, never key material or chunks."""

    async def mark_owned(self, resource_id: str, object_id: str) -> None:
        """The object has its record: the orphan sweep need not look at it again."""
