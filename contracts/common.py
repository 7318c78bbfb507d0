"""Value types shared by several topics (chat messages, sampling, usage, errors, filter results)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from contracts.base import INT64_MAX, Contract, Count, Int64

# Sampling values as the bus carries them. The gateway's HTTP edge declares its fields with these
# same types, so whatever the edge accepts is valid here (tests/unit/test_edge_contracts.py).
MaxTokens = Annotated[int, Field(ge=1, le=INT64_MAX)]
Temperature = Annotated[float, Field(ge=0, le=2)]
TopP = Annotated[float, Field(gt=0, le=1)]
ChoiceCount = Annotated[int, Field(ge=1, le=16)]
Seed = Int64
Penalty = Annotated[float, Field(ge=-2, le=2)]
TopLogprobs = Annotated[int, Field(ge=0, le=20)]
Dimensions = Annotated[int, Field(ge=1, le=INT64_MAX)]


FunctionName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class ToolCall(Contract):
    """A function call the model made (in an assistant message of the history)."""

    id: str = Field(min_length=1, max_length=128, description="Call ID; the tool message answering it names it.")
    name: FunctionName = Field(description="Name of the called function.")
    arguments: str = Field(description="Arguments as JSON text. Customer content: never logged.")


class GeneratedToolCall(Contract):
    """A function call the model wrote, found in its output by the model's tool parser (``auto``)."""

    name: FunctionName = Field(description="Name of the called function: one of the functions offered.")
    arguments: str = Field(description="Arguments as JSON text. Customer content: never logged.")


ToolChoice = Literal["auto", "required", "function"]
"""How the model calls the offered functions: it decides (``auto``: the model's chat template shows
them and its tool parser finds the calls in the output), or it must (``required``, a named
``function``: guided decoding against sampling.json_schema)."""


class ToolDefinition(Contract):
    """A function the caller offers the model (OpenAI's ``tools`` entry of type function)."""

    name: FunctionName = Field(description="Function name.")
    description: str | None = Field(None, description="What the function does. Customer content.")
    parameters: str = Field(description="JSON Schema of the arguments, as JSON text. Customer content.")


Metadata = Annotated[dict[Annotated[str, Field(min_length=1, max_length=64)], Annotated[str, Field(max_length=512)]],
                     Field(max_length=16)]
"""OpenAI's ``metadata``: at most 16 pairs, keys up to 64 characters, values up to 512."""


class ChatMessage(Contract):
    """One chat message, text only (content parts are joined by the gateway)."""

    role: Literal["system", "user", "assistant", "tool", "developer"] = Field(description="Author role.")
    content: str = Field(description="Message text. Customer content: never logged.")
    name: str | None = Field(None, description="Optional author name.")
    tool_calls: list[ToolCall] = Field(default_factory=list, max_length=128, description=(
        "Function calls of an assistant message. Customer content."))
    tool_call_id: str | None = Field(None, max_length=128, description=(
        "The call a tool message answers (role tool)."))


class SamplingParams(Contract):
    """Generation settings, already validated by the gateway."""

    max_tokens: MaxTokens | None = Field(None, description="Upper bound of generated tokens per choice.")
    temperature: Temperature = Field(1.0, description="Sampling temperature.")
    top_p: TopP = Field(1.0, description="Nucleus sampling mass.")
    n: ChoiceCount = Field(1, description="Number of choices to generate.")
    stop: list[str] = Field(default_factory=list, max_length=4, description="Stop sequences.")
    seed: Seed | None = Field(None, description="Seed for reproducible sampling.")
    presence_penalty: Penalty = Field(0.0, description="Presence penalty.")
    frequency_penalty: Penalty = Field(0.0, description="Frequency penalty.")
    logit_bias: dict[str, float] = Field(default_factory=dict, description="Token ID to bias in [-100, 100].")
    logprobs: bool = Field(False, description="Return log probabilities of the chosen tokens.")
    ignore_eos: bool = Field(False, description=(
        "Keep generating past the end-of-sequence token up to max_tokens (vLLM's extension; for "
        "benchmarks that need equal lengths)."))
    top_logprobs: TopLogprobs | None = Field(None, description="Alternatives per token with logprobs.")
    response_format: Literal["text", "json_object", "json_schema"] = Field(
        "text", description="Requested output format.")
    json_schema: str | None = Field(None, description=(
        "JSON Schema (as JSON text) the output must match, by guided decoding: a json_schema "
        "response_format, or the arguments of a function call the caller required. Customer content."))


class Usage(Contract):
    """Token counts from the model's tokenizer."""

    prompt_tokens: Count = Field(description="Tokens in the prompt after the chat template.")
    completion_tokens: Count = Field(description="Tokens generated over all choices.")
    total_tokens: Count = Field(description="prompt_tokens + completion_tokens.")
    cached_prompt_tokens: Count | None = Field(None, description=(
        "Prompt tokens served from the engine's prefix cache (only ever the same resource's: the "
        "cache is salted per resource). OpenAI's usage.prompt_tokens_details.cached_tokens."))


class ApiError(Contract):
    """An error for the caller, in the OpenAI error shape (the gateway adds nothing but HTTP)."""

    status: int = Field(ge=400, le=599, description="HTTP status the gateway answers with.")
    message: str = Field(description="Human-readable explanation; never contains customer content.")
    type: str | None = Field(None, description="OpenAI error type, e.g. invalid_request_error.")
    code: str | None = Field(None, description="Machine-readable code, e.g. content_filter.")
    param: str | None = Field(None, description="Request field the error is about, if any.")
    innererror: dict[str, object] | None = Field(None, description="Azure's innererror object, if any.")
    retry_after_s: int | None = Field(None, ge=1, le=3600, description=(
        "Seconds to wait before trying again (the gateway's Retry-After header), for a 503 that passes: "
        "an engine still starting."))


class TopLogprob(Contract):
    """One alternative token at a position, as OpenAI returns it."""

    token: str = Field(description="The token text. Customer content.")
    logprob: float = Field(description="Its log probability.")
    bytes: list[Int64] | None = Field(None, description="UTF-8 bytes of the token.")


class TokenLogprob(Contract):
    """Log probability of one generated token and its top alternatives."""

    token: str = Field(description="The generated token. Customer content.")
    logprob: float = Field(description="Its log probability.")
    bytes: list[Int64] | None = Field(None, description="UTF-8 bytes of the token.")
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
