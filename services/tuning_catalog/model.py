"""Records of the fine-tuning catalogue, as they cross the catalogue port."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FileStatus = Literal["uploaded", "processed", "error"]
JobStatus = Literal["validating_files", "queued", "running", "succeeded", "failed", "cancelled"]
FINISHED: tuple[JobStatus, ...] = ("succeeded", "failed", "cancelled")


def new_file_id() -> str:
    return f"file-{secrets.token_hex(12)}"


def new_job_id() -> str:
    return f"ftjob-{secrets.token_hex(12)}"


def fine_tuned_model_name(base: str, job_id: str) -> str:
    """``<base>.ft-<id>``: the job ID's hex makes it unique; the owner is the job's resource."""
    return f"{base}.ft-{job_id.removeprefix('ftjob-')}"


def adapter_object(model_name: str) -> str:
    """The sealed object holding a fine-tuned model's adapter (a tar of the PEFT folder)."""
    return f"adapter/{model_name}"


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FileRecord(Record):
    file_id: str
    resource_id: str
    filename: str
    purpose: str
    bytes: int
    created_at: datetime
    status: FileStatus = "uploaded"
    status_details: str | None = None
    examples: int | None = None


class Hyperparameters(Record):
    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float


class JobError(Record):
    code: str
    message: str
    param: str | None = None


class JobRecord(Record):
    job_id: str
    resource_id: str
    model: str
    training_file: str
    validation_file: str | None
    hyperparameters: Hyperparameters
    seed: int
    suffix: str | None
    fine_tuned_model_name: str  # what the model will be called once the job succeeds
    created_at: datetime
    status: JobStatus = "queued"
    started_at: datetime | None = None
    finished_at: datetime | None = None
    fine_tuned_model: str | None = None  # set only when the job succeeded
    trained_tokens: int | None = None
    error: JobError | None = None
    worker: str | None = None
    heartbeat_at: datetime | None = None
    result_files: list[str] = Field(default_factory=list)


class JobEvent(Record):
    event_id: str
    resource_id: str
    job_id: str
    sequence: int
    created_at: datetime
    level: Literal["info", "warn", "error"] = "info"
    message: str
    type: Literal["message", "metrics"] = "message"
    data: dict[str, float | int | str] | None = None


class Checkpoint(Record):
    checkpoint_id: str
    resource_id: str
    job_id: str
    created_at: datetime
    step_number: int
    metrics: dict[str, float]
    fine_tuned_model_checkpoint: str


class FineTunedModel(Record):
    """A trained adapter's record; its sealed bytes live in the tuning vault under ``adapter_object``."""

    name: str
    resource_id: str
    job_id: str
    base_model: str
    created_at: datetime
    adapter_object: str
    adapter_bytes: int
