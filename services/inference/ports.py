"""What the inference handlers need from the outside world."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from contracts.base import Envelope
from contracts.common import GeneratedToolCall, TokenLogprob, ToolDefinition
from contracts.embedding_requests import EmbedTexts
from contracts.generation_events import CompletionGenerated
from contracts.generation_requests import GenerateCompletion


@dataclass(frozen=True)
class ChoiceDelta:
    """Text one choice produced in one engine step."""

    index: int
    text: str
    finish_reason: str | None = None
    token_count: int = 1
    logprobs: tuple[TokenLogprob, ...] = ()


@dataclass(frozen=True)
class EngineStep:
    """One scheduling step's output for one request, with running token counts."""

    deltas: tuple[ChoiceDelta, ...]
    prompt_tokens: int
    completion_tokens: int
    cached_prompt_tokens: int | None = None  # prompt tokens found in the prefix cache, if the engine says


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


@dataclass(frozen=True)
class Embeddings:
    vectors: list[list[float]]
    prompt_tokens: int


class EmbeddingEngine(Protocol):
    """An engine that turns texts into vectors (vLLM's pooling runner)."""

    def serves(self, model: str) -> bool: ...

    async def embed(self, request: EmbedTexts) -> Embeddings:
        """Raises ``InvalidGenerationRequest`` for inputs the model cannot take."""


class Replies(Protocol):
    """Answers straight to the gateway replica (embeddings skip the filter)."""

    async def publish(self, reply: Envelope) -> None: ...


class GenerationEvents(Protocol):
    """Where generation results go (the region's generation-events topic)."""

    async def publish(self, event: CompletionGenerated) -> None: ...


class ToolCallReader(Protocol):
    """Splits one choice's generated text into content and function calls, as it is generated."""

    def feed(self, text: str) -> str:
        """Take the next generated text; returns the content that can go out now (text that is
        not, and cannot become, part of a function call)."""

    def finish(self) -> tuple[str, list[GeneratedToolCall]]:
        """The generation ended: the content not yet returned, and the calls (none when the output
        holds no complete, well-formed call to an offered function: then it all is content)."""


class ToolCallParsers(Protocol):
    """The tool parsers of the models that support ``tool_choice: auto``."""

    def reader(self, model: str, tools: list[ToolDefinition]) -> ToolCallReader | None:
        """A reader for one choice; None when ``model`` has no tool parser."""
