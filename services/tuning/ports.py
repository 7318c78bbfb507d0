"""What the tuning handlers need from the outside world."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from contracts.base import Envelope


@dataclass(frozen=True)
class StoredKey:
    wrapping_key_id: str
    wrapped: bytes | None  # None once destroyed


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


class Publisher(Protocol):
    async def publish(self, message: Envelope) -> None: ...


@dataclass(frozen=True)
class TrainingMessage:
    role: str
    content: str
    learn: bool  # an assistant turn whose tokens the loss counts


@dataclass(frozen=True)
class TrainingPlan:
    base_model: str
    examples: list[list[TrainingMessage]]
    validation: list[list[TrainingMessage]]
    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float
    seed: int


@dataclass(frozen=True)
class StepReport:
    step: int
    total_steps: int
    train_loss: float
    tokens: int  # tokens processed so far (all epochs)


@dataclass(frozen=True)
class TrainedAdapter:
    archive: bytes  # the PEFT adapter folder as an uncompressed tar
    steps: int
    trained_tokens: int
    final_loss: float
    valid_loss: float | None
    seconds: float


# Called from the training thread after every step; returns False to stop (cancelled).
StepCallback = Callable[[StepReport], bool]


class Trainer(Protocol):
    def train(self, plan: TrainingPlan, on_step: StepCallback) -> TrainedAdapter | None:
        """Blocking (runs in a worker thread); None when on_step asked to stop."""
        ...
