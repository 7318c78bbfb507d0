"""What the tuning handlers need from the outside world."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from contracts.base import Envelope


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
