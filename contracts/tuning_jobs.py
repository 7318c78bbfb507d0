"""Topic ``{region}.tuning.jobs.v1``: fine-tuning jobs for the region's tuning worker.

The gateway writes the job's record (status ``queued``) in the region's tuning store, then
publishes this command; a tuning worker claims the record (``queued`` -> ``running``), trains,
and records events, checkpoints and the result there. The record, not the message, is the job's
state: a message delivered again finds the job claimed or finished and trains nothing twice.
No customer content: IDs and hyperparameters only (the training data stays sealed in the store).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from contracts.base import Contract, Envelope, Int64, message_key
from contracts.tuning_files import FileId

TOPIC = "{region}.tuning.jobs.v1"
key = message_key
JOB_ID_PATTERN = r"^ftjob-[0-9a-f]{24}$"
JobId = Annotated[str, StringConstraints(pattern=JOB_ID_PATTERN)]


class Hyperparameters(Contract):
    """Training settings; ``auto`` was resolved by the gateway before publishing."""

    n_epochs: int = Field(ge=1, le=50, description="Passes over the training file.")
    batch_size: int = Field(ge=1, le=64, description="Examples per optimiser step.")
    learning_rate_multiplier: float = Field(gt=0, le=10, description="Multiplier of the base learning rate.")


class TrainFineTuningJob(Envelope):
    """Train a LoRA adapter for the job named here, if its record is still queued."""

    kind: Literal["train"] = Field("train", description="Discriminator.")
    job_id: JobId = Field(description="The job (its record holds the same fields).")
    model: str = Field(min_length=1, max_length=64, description="Base model to adapt.")
    training_file: FileId = Field(description="File of the same resource with the training examples.")
    validation_file: FileId | None = Field(None, description="File of the same resource to score after training.")
    hyperparameters: Hyperparameters = Field(description="Resolved training settings.")
    seed: Int64 = Field(description="Seed of shuffling and initialisation: same data and seed, same adapter.")
    fine_tuned_model: str = Field(min_length=1, max_length=128, description=(
        "Name of the resulting model, `<base>.ft-<id>`, owned by the resource."))
