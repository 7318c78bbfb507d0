"""Topic ``{region}.gateway.replies.v1``: answers for the gateway replica holding the caller.

Every gateway replica reads every partition of this topic without a consumer group and keeps
only messages whose ``reply_to`` (also sent as the ``residency-reply-to`` header, so other
replicas skip them unparsed) is its own replica ID. One request may receive, in order:
``grounding`` (citations), ``prompt_screened`` (prompt annotations), one or more ``completion``
messages (the last with ``final``), or a single ``error`` at any point. An embedding request
receives one ``embeddings`` message (from inference) or an ``error``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from contracts.base import Contract, Count, Envelope, message_key
from contracts.common import ApiError, Citation, FilterResults, GeneratedToolCall, TokenLogprob, Usage
from contracts.generation_events import FinishReason

TOPIC = "{region}.gateway.replies.v1"
key = message_key
REPLY_TO_HEADER = "residency-reply-to"


# What stands in a prompt, and in a citation, for a retrieved document the filter dropped.
WITHHELD_DOCUMENT = "[This document was removed by the content filter.]"


class RetrievedDocument(Citation):
    """One retrieved document, as Azure's ``all_retrieved_documents`` entry: a citation's fields and
    why it was (not) cited."""

    search_queries: list[str] = Field(description="The search queries that retrieved it.")
    data_source_index: int = Field(0, ge=0, le=15, description="Index of the data source in the request.")
    original_search_score: float = Field(description="Fused keyword/vector score before filtering.")
    rerank_score: float | None = Field(None, description="Score after reranking (not computed: null).")
    filter_reason: Literal["score", "rerank"] | None = Field(None, description=(
        "Why it was not cited: below the strictness threshold (score) or beyond top_n_documents (rerank)."))


class GroundingFound(Envelope):
    """Retrieval grounded the request on these documents."""

    kind: Literal["grounding"] = Field("grounding", description="Discriminator.")
    citations: list[Citation] = Field(description="Cited documents, in [docN] order.")
    intent: str = Field("", description="The search intent derived from the conversation.")
    all_retrieved_documents: list[RetrievedDocument] = Field(default_factory=list, description=(
        "Every document retrieved before filtering, with scores and why it was not cited; sent "
        "only when the caller's include_contexts asks for it."))


class PromptAnnotation(Contract):
    """Filter results of one prompt, as Azure's prompt_filter_results entries."""

    prompt_index: Count = Field(0, description="Index of the prompt in the request.")
    content_filter_results: FilterResults = Field(description="Category and detector results.")


class PromptScreened(Envelope):
    """The filter let the prompt through; these are its annotations."""

    kind: Literal["prompt_screened"] = Field("prompt_screened", description="Discriminator.")
    prompt_filter_results: list[PromptAnnotation] = Field(description="Annotations per prompt.")
    dropped_documents: list[Annotated[int, Field(ge=0, le=1000)]] = Field(default_factory=list, description=(
        "Positions of retrieved documents the filter removed from the prompt (e.g. injected instructions); "
        "their citations are withheld."))


class ContentFilterOffsets(Contract):
    """Which completion characters an asynchronous-filter annotation covers (Azure's shape)."""

    check_offset: Count = Field( description="Characters of the choice's text screened so far; never decreases.")
    start_offset: Count = Field( description="First character the annotation covers.")
    end_offset: Count = Field( description="End (exclusive) of the characters the annotation covers.")


class ReplyChoice(Contract):
    """Screened text of one choice since the previous reply of this request."""

    index: Count = Field( description="Choice index.")
    text: str = Field(description="Screened text (a delta when streaming). Customer content.")
    finish_reason: FinishReason | None = Field(None, description="Set on the choice's last reply.")
    content_filter_results: FilterResults = Field(default_factory=dict, description="Completion annotations.")
    logprobs: list[TokenLogprob] | None = Field(None, description="Per-token log probabilities, if asked for.")
    content_filter_offsets: ContentFilterOffsets | None = Field(
        None, description="Set on an asynchronous-filter annotation: the text its results apply to.")
    tool_calls: list[GeneratedToolCall] = Field(default_factory=list, max_length=128, description=(
        "tool_choice auto: the function calls the model made, whole, their arguments screened as "
        "completion text; on the choice's last reply. Customer content."))


class CompletionReady(Envelope):
    """Screened completion text; ``final`` marks the last completion reply of the request."""

    kind: Literal["completion"] = Field("completion", description="Discriminator.")
    sequence: Count = Field( description="Position among this request's completion replies.")
    final: bool = Field(description="True on the last completion reply.")
    model: str = Field(description="Model that generated the text.")
    choices: list[ReplyChoice] = Field(default_factory=list, description="Per-choice screened text.")
    usage: Usage | None = Field(None, description="Token counts; present on the final reply.")


class EmbeddingsReady(Envelope):
    """Embedding vectors of the request's inputs, in input order."""

    kind: Literal["embeddings"] = Field("embeddings", description="Discriminator.")
    model: str = Field(description="Model that embedded the inputs.")
    embeddings: list[list[float]] = Field(description="One vector per input.")
    prompt_tokens: Count = Field( description="Tokens in all inputs.")


class StoredCompletionsFound(Envelope):
    """Retention's answer to a stored-completions request (contracts/stored_completion_requests.py)."""

    kind: Literal["stored_completions"] = Field("stored_completions", description="Discriminator.")
    items: list[str] = Field(default_factory=list, description=(
        "JSON objects: chat.completion bodies (list, get, update) or messages (messages). Customer content."))
    has_more: bool = Field(False, description="list/messages: whether a further page exists.")
    deleted: bool = Field(False, description="delete: the completion was deleted.")


class RequestFailed(Envelope):
    """The request ends with an error for the caller (blocked prompt, engine error, retrieval error)."""

    kind: Literal["error"] = Field("error", description="Discriminator.")
    error: ApiError = Field(description="The error, in the OpenAI shape.")


class FileContentChunk(Envelope):
    """A piece of a stored file's content, answering a ``read`` on the tuning files topic (in order)."""

    kind: Literal["file_content"] = Field("file_content", description="Discriminator.")
    file_id: str = Field(min_length=1, max_length=64, description="The file read.")
    sequence: Count = Field(description="Position of this piece, from 0.")
    data: str = Field(description="The piece's bytes, base64. Customer content.")
    final: bool = Field(description="True on the last piece.")


GatewayReply = Annotated[
    GroundingFound | PromptScreened | CompletionReady | EmbeddingsReady | StoredCompletionsFound | RequestFailed
    | FileContentChunk,
    Field(discriminator="kind"),
]
