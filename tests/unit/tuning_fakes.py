"""In-memory fakes of the fine-tuning catalogue, the sealed-object store and the trainer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from contracts.base import Envelope
from services.tuning.ports import StepCallback, StepReport, TrainedAdapter, TrainingPlan
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
from services.tuning_catalog.ports import SealedChunk, StoredKey


class InMemoryTuningCatalog:
    """Keyed by (resource, id) as the real one is by ``<resource>/<id>``."""

    def __init__(self) -> None:
        self.files: dict[tuple[str, str], FileRecord] = {}
        self.hidden: set[tuple[str, str]] = set()
        self.jobs: dict[tuple[str, str], JobRecord] = {}
        self.events: list[JobEvent] = []
        self.checkpoints: list[Checkpoint] = []
        self.models: dict[tuple[str, str], FineTunedModel] = {}
        self.hidden_models: set[tuple[str, str]] = set()

    async def insert_file(self, record: FileRecord) -> None:
        self.files[(record.resource_id, record.file_id)] = record

    async def get_file(self, resource_id: str, file_id: str) -> FileRecord | None:
        key = (resource_id, file_id)
        return None if key in self.hidden else self.files.get(key)

    async def list_files(self, resource_id: str, *, purpose: str | None = None, limit: int = 10000) -> list[FileRecord]:
        found = [r for k, r in self.files.items() if k[0] == resource_id and k not in self.hidden
                 and (purpose is None or r.purpose == purpose)]
        return sorted(found, key=lambda r: r.created_at, reverse=True)[:limit]

    async def set_file_status(self, resource_id: str, file_id: str, status: FileStatus, details: str | None,
                              examples: int | None = None) -> bool:
        record = self.files.get((resource_id, file_id))
        if record is None:
            return False
        self.files[(resource_id, file_id)] = record.model_copy(
            update={"status": status, "status_details": details, "examples": examples})
        return True

    async def hide_file(self, resource_id: str, file_id: str) -> bool:
        key = (resource_id, file_id)
        if key not in self.files or key in self.hidden:
            return False
        self.hidden.add(key)
        return True

    async def remove_file(self, resource_id: str, file_id: str) -> None:
        self.files.pop((resource_id, file_id), None)
        self.hidden.discard((resource_id, file_id))

    async def insert_job(self, record: JobRecord) -> None:
        self.jobs[(record.resource_id, record.job_id)] = record

    async def get_job(self, resource_id: str, job_id: str) -> JobRecord | None:
        return self.jobs.get((resource_id, job_id))

    async def list_jobs(self, resource_id: str, *, limit: int) -> list[JobRecord]:
        found = [j for k, j in self.jobs.items() if k[0] == resource_id]
        return sorted(found, key=lambda j: j.created_at, reverse=True)[:limit]

    def _update(self, resource_id: str, job_id: str, **fields: Any) -> JobRecord:
        job = self.jobs[(resource_id, job_id)].model_copy(update=fields)
        self.jobs[(resource_id, job_id)] = job
        return job

    async def claim_job(self, resource_id: str, job_id: str, worker: str, now: datetime) -> JobRecord | None:
        job = self.jobs.get((resource_id, job_id))
        if job is None or job.status != "queued":
            return None
        return self._update(resource_id, job_id, status="running", worker=worker, started_at=now, heartbeat_at=now)

    async def beat(self, resource_id: str, job_id: str, worker: str, now: datetime) -> bool:
        job = self.jobs.get((resource_id, job_id))
        if job is None or job.status != "running" or job.worker != worker:
            return False
        self._update(resource_id, job_id, heartbeat_at=now)
        return True

    async def finish_job(self, resource_id: str, job_id: str, worker: str | None, status: JobStatus, now: datetime, *,
                         fine_tuned_model: str | None = None, trained_tokens: int | None = None,
                         error: JobError | None = None, result_files: list[str] | None = None) -> bool:
        job = self.jobs.get((resource_id, job_id))
        if job is None or job.status != "running" or (worker is not None and job.worker != worker):
            return False
        self._update(resource_id, job_id, status=status, finished_at=now, fine_tuned_model=fine_tuned_model,
                     trained_tokens=trained_tokens, error=error, result_files=result_files or [])
        return True

    async def cancel_job(self, resource_id: str, job_id: str, now: datetime) -> JobRecord | None:
        job = self.jobs.get((resource_id, job_id))
        if job is None or job.status not in ("validating_files", "queued", "running"):
            return None
        return self._update(resource_id, job_id, status="cancelled", finished_at=now)

    async def add_event(self, event: JobEvent) -> None:
        self.events.append(event)

    async def remove_event(self, resource_id: str, event_id: str) -> None:
        self.events = [e for e in self.events if (e.resource_id, e.event_id) != (resource_id, event_id)]

    async def list_events(self, resource_id: str, job_id: str, *, limit: int) -> list[JobEvent]:
        found = [e for e in self.events if (e.resource_id, e.job_id) == (resource_id, job_id)]
        return sorted(found, key=lambda e: e.sequence, reverse=True)[:limit]

    async def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        self.checkpoints.append(checkpoint)

    async def list_checkpoints(self, resource_id: str, job_id: str, *, limit: int) -> list[Checkpoint]:
        return [c for c in self.checkpoints if (c.resource_id, c.job_id) == (resource_id, job_id)][:limit]

    async def put_model(self, model: FineTunedModel) -> None:
        self.models[(model.resource_id, model.name)] = model

    async def get_model(self, resource_id: str, name: str) -> FineTunedModel | None:
        return None if (resource_id, name) in self.hidden_models else self.models.get((resource_id, name))

    async def hide_model(self, resource_id: str, name: str) -> bool:
        if (resource_id, name) not in self.models or (resource_id, name) in self.hidden_models:
            return False
        self.hidden_models.add((resource_id, name))
        return True

    async def remove_model(self, resource_id: str, name: str) -> None:
        self.models.pop((resource_id, name), None)
        self.hidden_models.discard((resource_id, name))

    async def file_recorded(self, resource_id: str, file_id: str) -> bool:
        return (resource_id, file_id) in self.files

    async def model_recorded(self, resource_id: str, name: str) -> bool:
        return (resource_id, name) in self.models


class InMemorySealedObjects:
    def __init__(self) -> None:
        self.keys: dict[tuple[str, str], StoredKey] = {}
        self.created: dict[tuple[str, str], datetime] = {}
        self.owned: set[tuple[str, str]] = set()
        self.chunks_of: dict[tuple[str, str], dict[int, SealedChunk]] = {}

    async def insert_key(self, resource_id: str, object_id: str, key: StoredKey, now: datetime) -> bool:
        if (resource_id, object_id) in self.keys:
            return False
        self.keys[(resource_id, object_id)] = key
        self.created[(resource_id, object_id)] = now
        return True

    async def get_key(self, resource_id: str, object_id: str) -> StoredKey | None:
        return self.keys.get((resource_id, object_id))

    async def destroy_key(self, resource_id: str, object_id: str, now: datetime) -> None:
        if (resource_id, object_id) in self.keys:
            self.keys[(resource_id, object_id)] = StoredKey(self.keys[(resource_id, object_id)].wrapping_key_id, None)

    async def put_chunk(self, resource_id: str, object_id: str, chunk: SealedChunk) -> None:
        self.chunks_of.setdefault((resource_id, object_id), {})[chunk.sequence] = chunk

    async def chunks(self, resource_id: str, object_id: str) -> AsyncIterator[SealedChunk]:
        for sequence in sorted(self.chunks_of.get((resource_id, object_id), {})):
            yield self.chunks_of[(resource_id, object_id)][sequence]

    async def delete_chunks(self, resource_id: str, object_id: str) -> None:
        self.chunks_of.pop((resource_id, object_id), None)

    async def unowned_keys_before(self, cutoff: datetime, *, limit: int) -> list[tuple[str, str]]:
        return [k for k, key in self.keys.items()
                if key.wrapped is not None and k not in self.owned and self.created[k] < cutoff][:limit]

    async def mark_owned(self, resource_id: str, object_id: str) -> None:
        self.owned.add((resource_id, object_id))


class RecordingPublisher:
    def __init__(self) -> None:
        self.published: list[Envelope] = []

    async def publish(self, message: Envelope, **_: Any) -> None:
        self.published.append(message)

    def of_type(self, kind: type) -> list[Any]:
        return [m for m in self.published if isinstance(m, kind)]


class ScriptedTrainer:
    """Reports ``losses`` one step each (stopping when told), then returns a small archive."""

    def __init__(self, losses: list[float], *, fail: Exception | None = None) -> None:
        self.losses = losses
        self.fail = fail
        self.plans: list[TrainingPlan] = []

    def train(self, plan: TrainingPlan, on_step: StepCallback) -> TrainedAdapter | None:
        self.plans.append(plan)
        if self.fail is not None:
            raise self.fail
        for step, loss in enumerate(self.losses, 1):
            if not on_step(StepReport(step=step, total_steps=len(self.losses), train_loss=loss, tokens=10 * step)):
                return None
        steps = len(self.losses)
        return TrainedAdapter(archive=b"adapter-bytes" * 100, steps=steps, trained_tokens=10 * steps,
                              final_loss=self.losses[-1], valid_loss=None, seconds=0.1)
