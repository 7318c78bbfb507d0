"""Topic ``{region}.inference.embedding-requests.v1``: texts to embed, for the gateway or retrieval.

Embeddings are not content-filtered (as in Azure OpenAI); the answer goes straight back to the
replica named in ``reply_to``: a gateway replica on the replies topic, or a retrieval replica
(embedding a grounded request's search queries) on ``{region}.retrieval.query-embeddings.v1``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.base import Envelope, message_key
from contracts.common import Dimensions

TOPIC = "{region}.inference.embedding-requests.v1"
key = message_key


class EmbedTexts(Envelope):
    """Embed each input with the deployment's embedding model."""

    model: str = Field(min_length=1, description="Embedding model the deployment maps to.")
    inputs: list[str] = Field(min_length=1, max_length=2048, description="Texts to embed. Customer content.")
    dimensions: Dimensions | None = Field(None, description="Truncate vectors to this many dimensions.")
    end_user: str | None = Field(None, description="The request's `user` field.")
    answer_to: Literal["gateway", "retrieval"] = Field(
        "gateway", description="Which service's replica reply_to names, and so the topic of the answer.")
