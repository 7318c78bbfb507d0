"""Embeds a grounded request's search queries with the caller's embedding deployment, over the bus.

The request goes to inference like any embedding request, with ``answer_to="retrieval"`` and this
replica's ID in ``reply_to``; the answer comes back on ``{region}.retrieval.query-embeddings.v1``,
which every retrieval replica reads without a group (the app hands this replica's answers to the
inbox). The query request's ID is derived from the caller's, so logs tie the two together.
"""

from __future__ import annotations

import secrets

from contracts.embedding_requests import EmbedTexts
from contracts.gateway_replies import EmbeddingsReady, RequestFailed
from contracts.grounding_requests_v2 import GroundingRequested
from services.retrieval.errors import QueryEmbeddingFailed
from services.runtime.bus import TopicPublisher
from services.runtime.reply_inbox import InMemoryReplyInbox


class BusQueryEmbedder:
    def __init__(self, publisher: TopicPublisher, inbox: InMemoryReplyInbox, *, replica_id: str,
                 timeout_s: float) -> None:
        self._publisher = publisher
        self._inbox = inbox
        self._replica_id = replica_id
        self._timeout_s = timeout_s

    async def embed(self, request: GroundingRequested, queries: list[str]) -> list[list[float]]:
        source = request.data_source
        assert source.embedding_model is not None and source.embedding_deployment is not None
        query_id = f"{request.request_id[:50]}-q{secrets.token_hex(4)}"
        envelope = {**request.envelope(), "request_id": query_id, "deployment": source.embedding_deployment,
                    "reply_to": self._replica_id}
        with self._inbox.open(query_id) as answers:
            await self._publisher.publish(EmbedTexts(**envelope, model=source.embedding_model, inputs=queries,
                                                     answer_to="retrieval"))
            try:
                reply = await answers.next(self._timeout_s)
            except TimeoutError:
                message = f"The embedding deployment did not answer within {self._timeout_s:g} s."
                raise QueryEmbeddingFailed(504, "embedding_timeout", message) from None
        if isinstance(reply, RequestFailed):
            raise QueryEmbeddingFailed(reply.error.status, reply.error.code or "embedding_failed", reply.error.message)
        assert isinstance(reply, EmbeddingsReady)
        return reply.embeddings
