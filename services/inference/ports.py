"""What the inference handlers need from the outside world."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from contracts.generation_events import CompletionGenerated
from contracts.generation_requests import GenerateCompletion


@dataclass(frozen=True)
class ChoiceDelta:
    """Text one choice produced in one engine step."""

    index: int
    text: str
    finish_reason: str | None = None


@dataclass(frozen=True)
class EngineStep:
    """One scheduling step's output for one request, with running token counts."""

    deltas: tuple[ChoiceDelta, ...]
    prompt_tokens: int
    completion_tokens: int


class CompletionEngine(Protocol):
    """A text-generation engine that batches concurrent requests itself."""

    def serves(self, model: str) -> bool:
        """Whether this engine has ``model`` loaded."""

    def generate(self, request: GenerateCompletion) -> AsyncIterator[EngineStep]:
        """Run one request; yields steps until every choice has a finish_reason.

        Raises ``InvalidGenerationRequest`` for a request the engine cannot run.
        """

    async def abort(self, request_id: str) -> bool:
        """Stop generating for a request; returns whether it was running."""


class GenerationEvents(Protocol):
    """Where generation results go (the region's generation-events topic)."""

    async def publish(self, event: CompletionGenerated) -> None: ...
