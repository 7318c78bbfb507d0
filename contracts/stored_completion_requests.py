"""Topic ``{region}.retention.stored-completion-requests.v1``: the gateway asks retention about
stored completions (``store: true``); retention answers on ``{region}.gateway.replies.v1``
(``StoredCompletionsFound``, or ``RequestFailed`` with 404 for a completion the resource does not have)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.base import Envelope, message_key
from contracts.common import Metadata

TOPIC = "{region}.retention.stored-completion-requests.v1"
key = message_key


class StoredCompletionsRequested(Envelope):
    """One stored-completions operation of a resource; another resource's completions are never seen."""

    operation: Literal["list", "get", "messages", "update", "delete"] = Field(description="What to do.")
    completion_id: str | None = Field(None, min_length=1, max_length=128, description=(
        "The completion (chatcmpl-...) of get, messages, update and delete."))
    model: str | None = Field(None, max_length=128, description="list: only completions of this model.")
    metadata: Metadata = Field(default_factory=dict, description=(
        "list: only completions with all these pairs; update: the new metadata (replaces the old)."))
    after: str | None = Field(None, max_length=128, description="list/messages: the last ID of the previous page.")
    limit: int = Field(20, ge=1, le=100, description="list/messages: page size.")
    order: Literal["asc", "desc"] = Field("asc", description="list: by creation time; messages: by position.")
