"""Value types shared by several topics (chat messages, sampling, usage, errors, filter results)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.base import Contract


class ChatMessage(Contract):
    """One chat message, text only (content parts are joined by the gateway)."""

    role: Literal["system", "user", "assistant", "tool", "developer"] = Field(description="Author role.")
    content: str = Field(description="Message text. Customer content: never logged.")
    name: str | None = Field(None, description="Optional author name.")


class SamplingParams(Contract):
    """Generation settings, already validated by the gateway."""

    max_tokens: int | None = Field(None, ge=1, description="Upper bound of generated tokens per choice.")
    temperature: float = Field(1.0, ge=0, le=2, description="Sampling temperature.")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling mass.")
    n: int = Field(1, ge=1, le=16, description="Number of choices to generate.")
    stop: list[str] = Field(default_factory=list, max_length=4, description="Stop sequences.")
    seed: int | None = Field(None, description="Seed for reproducible sampling.")
    presence_penalty: float = Field(0.0, ge=-2, le=2, description="Presence penalty.")
    frequency_penalty: float = Field(0.0, ge=-2, le=2, description="Frequency penalty.")
    logit_bias: dict[str, float] = Field(default_factory=dict, description="Token ID to bias in [-100, 100].")
    logprobs: bool = Field(False, description="Return log probabilities of the chosen tokens.")
    top_logprobs: int | None = Field(None, ge=0, le=20, description="Alternatives per token with logprobs.")
    response_format: Literal["text", "json_object"] = Field("text", description="Requested output format.")


class Usage(Contract):
    """Token counts from the model's tokenizer."""

    prompt_tokens: int = Field(ge=0, description="Tokens in the prompt after the chat template.")
    completion_tokens: int = Field(ge=0, description="Tokens generated over all choices.")
    total_tokens: int = Field(ge=0, description="prompt_tokens + completion_tokens.")


class ApiError(Contract):
    """An error for the caller, in the OpenAI error shape (the gateway adds nothing but HTTP)."""

    status: int = Field(ge=400, le=599, description="HTTP status the gateway answers with.")
    message: str = Field(description="Human-readable explanation; never contains customer content.")
    type: str | None = Field(None, description="OpenAI error type, e.g. invalid_request_error.")
    code: str | None = Field(None, description="Machine-readable code, e.g. content_filter.")
    param: str | None = Field(None, description="Request field the error is about, if any.")
    innererror: dict[str, object] | None = Field(None, description="Azure's innererror object, if any.")


class TopLogprob(Contract):
    """One alternative token at a position, as OpenAI returns it."""

    token: str = Field(description="The token text. Customer content.")
    logprob: float = Field(description="Its log probability.")
    bytes: list[int] | None = Field(None, description="UTF-8 bytes of the token.")


class TokenLogprob(Contract):
    """Log probability of one generated token and its top alternatives."""

    token: str = Field(description="The generated token. Customer content.")
    logprob: float = Field(description="Its log probability.")
    bytes: list[int] | None = Field(None, description="UTF-8 bytes of the token.")
    top_logprobs: list[TopLogprob] = Field(default_factory=list, description="Most likely alternatives.")


class Citation(Contract):
    """A document the answer was grounded on: IDs and display fields, as Azure returns them."""

    content: str = Field(description="Text of the retrieved chunk (returned to the caller, never retained).")
    title: str | None = Field(None, description="Document title field.")
    url: str | None = Field(None, description="Document URL field.")
    filepath: str | None = Field(None, description="Document file path field.")
    chunk_id: str = Field(description="ID of the document in the customer's collection.")


FilterResults = dict[str, dict[str, object]]
"""Azure's content_filter_results: category or detector name to {filtered, severity|detected}."""
