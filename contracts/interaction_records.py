"""Topic ``{region}.retention.interactions.v1``: one finished request, for the abuse-monitoring store.

The gateway publishes it once the caller has its answer. For a resource with content logging off
the message carries no content at all (``messages`` and ``completions`` empty), and retention
stores none either.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from contracts.base import Contract, Envelope, message_key
from contracts.common import ChatMessage, FilterResults, Metadata, Usage

TOPIC = "{region}.retention.interactions.v1"
key = message_key


class StoredCompletion(Contract):
    """A completion the caller asked to keep (``store: true``): its request and answer, for the
    stored-completions API. Carried whatever content logging says: the customer asked for it."""

    completion_id: str = Field(min_length=1, max_length=128, description="The answer's id (chatcmpl-...).")
    model: str = Field(min_length=1, max_length=128, description="Model that answered (the list filter).")
    metadata: Metadata = Field(default_factory=dict, description="The caller's tags; not content, not sealed.")
    messages: list[ChatMessage] = Field(min_length=1, description="The request's messages. Customer content.")
    response: str = Field(description="The chat.completion body the caller received, as JSON. Customer content.")


class InteractionCompleted(Envelope):
    """The outcome of one request: filter results, IDs, and (if logging is on) the content."""

    completed_at: datetime = Field(description="When the gateway answered the caller (UTC).")
    status: int = Field(ge=100, le=599, description="HTTP status the caller received.")
    end_user: str | None = Field(None, description="The request's `user` field.")
    content_logging: bool = Field(description="The resource's content-logging switch at request time.")
    messages: list[ChatMessage] = Field(default_factory=list, description="Prompt messages; empty if logging is off.")
    completions: list[str] = Field(default_factory=list, description="Text per choice; empty if logging is off.")
    finish_reasons: list[str | None] = Field(default_factory=list, description="finish_reason per choice.")
    prompt_filter_results: list[FilterResults] = Field(default_factory=list, description="Prompt annotations.")
    completion_filter_results: list[FilterResults] = Field(default_factory=list, description="Per-choice annotations.")
    citation_ids: list[str] = Field(default_factory=list, description="IDs of cited documents, never their text.")
    error_code: str | None = Field(None, description="error.code when the request failed.")
    usage: Usage | None = Field(None, description="Token counts, if any were generated.")
    stored: StoredCompletion | None = Field(None, description="Set when the caller asked to store the completion.")
