"""Topic ``{region}.retrieval.grounding-requests.v1``: gateway asks retrieval to ground a chat request.

Sent instead of a prompt submission when the request names a data source ("on your data").
Retrieval reads the customer's own collection at request time and forwards the augmented prompt.
"""

from __future__ import annotations

from pydantic import Field

from contracts.base import Contract, Envelope, message_key
from contracts.common import ChatMessage, SamplingParams

TOPIC = "{region}.retrieval.grounding-requests.v1"
key = message_key


class MongoDataSource(Contract):
    """The customer's MongoDB collection, as named in the request's ``data_sources[0].parameters``."""

    endpoint: str = Field(description="mongodb:// URI or host:port of the customer's server.")
    database_name: str = Field(min_length=1, description="Customer database.")
    collection_name: str = Field(min_length=1, description="Customer collection.")
    username: str | None = Field(None, description="Username for username_and_password authentication.")
    password: str | None = Field(None, repr=False, description="Password; never logged, never stored.")
    content_fields: list[str] = Field(default_factory=lambda: ["content"], min_length=1,
                                      description="Fields whose text is searched and cited.")
    title_field: str | None = Field(None, description="Field holding the document title.")
    url_field: str | None = Field(None, description="Field holding the document URL.")
    filepath_field: str | None = Field(None, description="Field holding the document path.")
    top_n_documents: int = Field(5, ge=1, le=20, description="How many documents to cite at most.")
    strictness: int = Field(3, ge=1, le=5, description="Higher keeps only better-matching documents.")
    in_scope: bool = Field(True, description="Answer only from the documents when true.")


class GroundingRequested(Envelope):
    """Ground this chat request on the customer's data, then submit it for screening."""

    model: str = Field(min_length=1, description="Model the deployment maps to, resolved by the gateway.")
    messages: list[ChatMessage] = Field(min_length=1, description="The caller's messages. Customer content.")
    sampling: SamplingParams = Field(description="Validated sampling settings.")
    stream: bool = Field(False, description="Whether the caller asked for server-sent events.")
    end_user: str | None = Field(None, description="The request's `user` field, for abuse monitoring.")
    adapter: str | None = Field(None, description="Fine-tuned LoRA adapter of the deployment, owned by the resource.")
    data_source: MongoDataSource = Field(description="Where the customer's documents live.")
