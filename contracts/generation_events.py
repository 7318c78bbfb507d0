"""Topic ``{region}.inference.generation-events.v1``: what the engine generated, for the filter."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.base import Contract, Count, Envelope, message_key
from contracts.common import ApiError, GeneratedToolCall, TokenLogprob, Usage

TOPIC = "{region}.inference.generation-events.v1"
key = message_key

FinishReason = Literal["stop", "length", "content_filter", "abort"]


class GeneratedChoice(Contract):
    """Text generated for one choice since the previous event of this request."""

    index: Count = Field( description="Choice index (0..n-1).")
    text: str = Field(description="Generated text (a delta when streaming). Customer content.")
    finish_reason: FinishReason | None = Field(None, description="Set on the choice's last event.")
    logprobs: list[TokenLogprob] | None = Field(None, description="Per-token log probabilities, if asked for.")
    tool_calls: list[GeneratedToolCall] = Field(default_factory=list, max_length=128, description=(
        "tool_choice auto: the function calls the model's tool parser found in the choice's output, whole, "
        "on the choice's last event; the text is then what came before them. Customer content."))


class CompletionGenerated(Envelope):
    """A chunk or the final result of a generation; ``final`` marks the last event of an attempt."""

    sequence: Count = Field( description="Position of this event within its attempt, from 0.")
    attempt_id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description=(
        "One run of the request in an engine. A request can run twice (its partition moved to another "
        "inference replica mid-flight); the filter keeps the first attempt it sees and drops the others."))
    final: bool = Field(description="True on the last event of the request.")
    model: str = Field(description="Model that generated the text.")
    choices: list[GeneratedChoice] = Field(default_factory=list, description="Per-choice text.")
    usage: Usage | None = Field(None, description="Token counts; present on the final event.")
    error: ApiError | None = Field(None, description="Why generation failed, if it did; then final is true.")
