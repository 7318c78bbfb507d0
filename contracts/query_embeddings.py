"""Topic ``{region}.retrieval.query-embeddings.v1``: embeddings of a grounded request's search queries.

Inference answers an ``EmbedTexts`` with ``answer_to="retrieval"`` here, not on the gateway's
replies topic. Like the replies topic, it is read by every retrieval replica without a group; each
keeps the answers whose ``residency-reply-to`` header is its replica ID. The messages are the
replies topic's ``EmbeddingsReady`` and ``RequestFailed``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from contracts.base import message_key
from contracts.gateway_replies import REPLY_TO_HEADER, EmbeddingsReady, RequestFailed

TOPIC = "{region}.retrieval.query-embeddings.v1"
key = message_key
QueryEmbeddingReply = Annotated[EmbeddingsReady | RequestFailed, Field(discriminator="kind")]
__all__ = ["REPLY_TO_HEADER", "TOPIC", "EmbeddingsReady", "QueryEmbeddingReply", "RequestFailed", "key"]
