"""Topic ``{region}.retrieval.grounding-requests.v2``: gateway asks retrieval to ground a chat request.

Sent instead of a prompt submission when the request names a data source ("on your data").
Unlike v1 (retired: it carried the customer's database password in clear), the request names a
data connection registered for its resource; retrieval reads that connection, with its sealed
credentials, from the region's control-plane store. No credential is ever on the bus.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.base import Contract, Envelope, message_key
from contracts.common import ChatMessage, SamplingParams

TOPIC = "{region}.retrieval.grounding-requests.v2"
key = message_key
ContextPart = Literal["citations", "intent", "all_retrieved_documents"]
DEFAULT_CONTEXTS: tuple[ContextPart, ...] = ("citations", "intent")


class ConnectionDataSource(Contract):
    """The request's ``data_sources[0].parameters``, with the endpoint resolved to a connection."""

    connection: str = Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$",
                            description="Name of the resource's registered data connection (no credentials).")
    database_name: str = Field(min_length=1, max_length=64, description="Customer database (the connection's).")
    collection_name: str = Field(min_length=1, max_length=120, description="Customer collection.")
    content_fields: list[str] = Field(default_factory=lambda: ["content"], min_length=1, max_length=16,
                                      description="Fields whose text is searched and cited.")
    title_field: str | None = Field(None, max_length=128, description="Field holding the document title.")
    url_field: str | None = Field(None, max_length=128, description="Field holding the document URL.")
    filepath_field: str | None = Field(None, max_length=128, description="Field holding the document path.")
    top_n_documents: int = Field(5, ge=1, le=20, description="How many documents to cite at most.")
    strictness: int = Field(3, ge=1, le=5, description="Higher keeps only better-matching documents.")
    in_scope: bool = Field(True, description="Answer only from the documents when true.")
    vector_fields: list[str] = Field(default_factory=list, max_length=4, description=(
        "Fields holding the documents' embedding vectors; with an embedding model, search is hybrid."))
    embedding_deployment: str | None = Field(None, max_length=64, description=(
        "The caller's embedding deployment (embedding_dependency), resolved within its resource."))
    embedding_model: str | None = Field(None, max_length=128, description=(
        "The model embedding_deployment maps to; queries are embedded with it through inference."))
    include_contexts: list[ContextPart] = Field(default_factory=lambda: list(DEFAULT_CONTEXTS),
                                                description="Which context parts the answer shows.")
    max_search_queries: int | None = Field(None, ge=1, le=10, description=(
        "Most search queries generated from the conversation (Azure's default: the service decides)."))
    allow_partial_result: bool = Field(False, description=(
        "When some of several search queries fail, answer from the others instead of failing."))


class GroundingRequested(Envelope):
    """Ground this chat request on the customer's data, then submit it for screening."""

    model: str = Field(min_length=1, description="Model the deployment maps to, resolved by the gateway.")
    messages: list[ChatMessage] = Field(min_length=1, description="The caller's messages. Customer content.")
    sampling: SamplingParams = Field(description="Validated sampling settings.")
    stream: bool = Field(False, description="Whether the caller asked for server-sent events.")
    end_user: str | None = Field(None, description="The request's `user` field, for abuse monitoring.")
    adapter: str | None = Field(None, description="Fine-tuned LoRA adapter of the deployment, owned by the resource.")
    data_source: ConnectionDataSource = Field(description="Which registered connection and collection to read.")
