"""What retrieval does with a grounding request: search, cite, then submit the grounded prompt.

1. Search queries from the conversation (``search_queries``); the intent is their list.
2. Per query: keyword candidates from the customer's collection and, when the source has vector
   fields and an embedding deployment, the nearest documents of the in-memory index (queries
   embedded through inference). Failed queries fail the request unless ``allow_partial_result``
   and another query succeeded. Everything within the request's deadline; while an index is
   still being built, that request's vector part is skipped (keyword results only).
3. Fuse, apply strictness and top_n (``search.Pool``); reply with the citations (the gateway
   releases them once the prompt passed screening) and submit the grounded prompt for screening.
   In scope with nothing relevant: the prompt is still screened, the model is not called.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from opentelemetry import trace

from contracts.common import ApiError
from contracts.gateway_replies import GroundingFound, RequestFailed, RetrievedDocument
from contracts.grounding_requests_v2 import ConnectionDataSource, GroundingRequested
from contracts.prompt_submissions import PromptSubmitted
from services.connections.errors import ConnectionRefused
from services.connections.model import DataConnection
from services.retrieval.errors import CredentialsUnreadable, DataSourceUnavailable, QueryEmbeddingFailed
from services.retrieval.grounding import (
    NOT_FOUND_ANSWER,
    augment,
    citation_of,
    grounding_message,
    grounding_position,
)
from services.retrieval.ports import Connections, CustomerDocuments, PromptSubmissions, QueryEmbedder, Replies
from services.retrieval.ranking import query_terms
from services.retrieval.search import Pool, Retrieved, key_of
from services.retrieval.search_queries import intent_of, search_queries
from services.retrieval.vector_index import IndexKey, VectorIndexes

tracer = trace.get_tracer("residency.retrieval")
log = logging.getLogger("residency.retrieval.handlers")
VECTOR_HITS = 50  # nearest documents per query and vector field, before fusion
KEYWORD_SHARE = 0.3  # of the deadline, for a hybrid query's keyword scan


@dataclass(frozen=True)
class RetrievalPorts:
    connections: Connections
    documents: CustomerDocuments
    submissions: PromptSubmissions
    replies: Replies
    max_candidates: int
    deadline_s: float  # the longest a request may spend on the customer's store and the embedding
    indexes: VectorIndexes | None = None
    embedder: QueryEmbedder | None = None


def is_hybrid(source: ConnectionDataSource, ports: RetrievalPorts) -> bool:
    """Vector search beside the keywords: the source names vector fields and an embedding model,
    and this replica can embed and index (one answer for the search and for its ranking)."""
    return bool(source.vector_fields and source.embedding_model and ports.embedder and ports.indexes)


class SearchFailed(Exception):
    def __init__(self, failure: RequestFailed) -> None:
        super().__init__(failure.error.code)
        self.failure = failure


def _failure(request: GroundingRequested, status: int, code: str, message: str) -> SearchFailed:
    error_type = "invalid_request_error" if status < 500 else "server_error"
    return SearchFailed(RequestFailed(**request.envelope(), error=ApiError(
        status=status, type=error_type, code=code, param="data_sources", message=message)))


def _as_failure(request: GroundingRequested, error: Exception, ports: RetrievalPorts) -> SearchFailed:
    """The caller's answer for a failure on the customer's side (never retried)."""
    if isinstance(error, ConnectionRefused):
        return _failure(request, 400, error.code, error.message)
    if isinstance(error, DataSourceUnavailable):
        return _failure(request, 400, "data_source_unavailable",
                        "The data source could not be reached or read with the given parameters.")
    if isinstance(error, TimeoutError):
        return _failure(request, 400, "data_source_timeout",
                        f"The data source did not answer within {ports.deadline_s:g} s.")
    if isinstance(error, QueryEmbeddingFailed):
        return _failure(request, error.status, error.code, f"Embedding the search queries failed: {error.message}")
    if isinstance(error, CredentialsUnreadable):
        return _failure(request, 503, "data_connection_unreadable",
                        "The data connection's credentials cannot be opened in this region; register it again.")
    raise error


CUSTOMER_SIDE = (ConnectionRefused, DataSourceUnavailable, TimeoutError, QueryEmbeddingFailed, CredentialsUnreadable)


async def _vector_hits(connection: DataConnection, source: ConnectionDataSource, vector: list[float],
                       ports: RetrievalPorts) -> list[tuple[Any, float]]:
    assert ports.indexes is not None
    hits: list[tuple[Any, float]] = []
    for field in source.vector_fields:
        key = IndexKey(connection.resource_id, connection.name, connection.created_at.timestamp(),
                       connection.database, source.collection_name, field)
        def load(cap: int, field: str = field) -> AsyncIterator[tuple[Any, Sequence[float] | np.ndarray]]:
            return ports.documents.vectors(connection, source, field, cap)

        index = await ports.indexes.index(key, load=load, marker=lambda: ports.documents.marker(connection, source))
        hits += index.search(np.asarray(vector, dtype=np.float32), VECTOR_HITS, ports.indexes.probes)
    return sorted(hits, key=lambda hit: -hit[1])[:VECTOR_HITS]


async def _search(request: GroundingRequested, queries: list[str], ports: RetrievalPorts) -> Pool:
    source = request.data_source
    connection = await ports.connections.get(request.resource_id, source.connection)
    if connection is None or connection.database != source.database_name:
        if ports.indexes is not None:
            ports.indexes.drop(request.resource_id, source.connection)
        raise _failure(request, 400, "data_source_not_registered",
                       "The data connection is not registered for this resource.")
    pool = Pool(source.content_fields)
    hybrid = is_hybrid(source, ports)
    vectors: list[list[float]] = []
    if hybrid and queries:
        assert ports.embedder is not None
        vectors = await ports.embedder.embed(request, queries)
    failures: list[Exception] = []
    for number, query in enumerate(queries):
        with tracer.start_as_current_span("retrieval.query", attributes={
                "residency.retrieval.query_index": number, "residency.retrieval.hybrid": hybrid}) as span:
            try:
                terms = query_terms(query)
                if hybrid:
                    await _hybrid_query(query, terms, vectors[number], connection, source, pool, ports)
                else:
                    keyword = await ports.documents.candidates(connection, source, terms, ports.max_candidates)
                    pool.add_keyword(query, terms, keyword)
            except CUSTOMER_SIDE as error:
                log.info("request %s: search query %d failed (%s)", request.request_id, number, type(error).__name__)
                span.set_attribute("error.type", type(error).__name__)
                failures.append(error)
    if failures and (not source.allow_partial_result or len(failures) == len(queries)):
        raise _as_failure(request, failures[0], ports)
    return pool


async def _hybrid_query(query: str, terms: list[str], vector: list[float], connection: DataConnection,
                        source: ConnectionDataSource, pool: Pool, ports: RetrievalPorts) -> None:
    """Vector hits first, then the keyword scan within a share of the deadline; a scan that takes
    longer (a large collection on a store without a text index) scores the vector hits only."""
    hits = await _vector_part(connection, source, vector, ports)
    found = {key_of(d): d for d in await ports.documents.by_ids(connection, source, [i for i, _ in hits])}
    try:
        async with asyncio.timeout(ports.deadline_s * KEYWORD_SHARE):
            keyword = await ports.documents.candidates(connection, source, terms, ports.max_candidates)
    except TimeoutError:
        log.info("keyword scan of %s/%s over its budget; keyword scores of the vector hits only",
                 connection.resource_id, connection.name)
        keyword = list(found.values())
    pool.add_keyword(query, terms, keyword)
    pool.add_vector(query, hits, {**found, **{key: e.document for key, e in pool.documents.items()}})


async def _vector_part(connection: DataConnection, source: ConnectionDataSource, vector: list[float],
                       ports: RetrievalPorts) -> list[tuple[Any, float]]:
    """The vector hits, or none while the index is still being built (it goes on building)."""
    try:
        async with asyncio.timeout(ports.deadline_s / 2):
            return await _vector_hits(connection, source, vector, ports)
    except TimeoutError:
        log.info("vector index of %s/%s not ready; keyword results only", connection.resource_id, connection.name)
        return []


def _all_retrieved(everything: list[Retrieved], source: ConnectionDataSource) -> list[RetrievedDocument]:
    return [RetrievedDocument(**citation_of(e, source).model_dump(), search_queries=e.queries, data_source_index=0,
                              original_search_score=round(e.fused, 6), filter_reason=e.filter_reason)
            for e in everything]


async def ground_request(request: GroundingRequested, ports: RetrievalPorts) -> None:
    source = request.data_source
    queries = search_queries(request.messages, source.max_search_queries)
    try:
        with tracer.start_as_current_span("retrieval.search", attributes={"residency.retrieval.queries": len(queries)}):
            async with asyncio.timeout(ports.deadline_s):
                pool = await _search(request, queries, ports)
    except SearchFailed as failed:
        await ports.replies.publish(failed.failure)
        return
    except CUSTOMER_SIDE as error:  # the deadline, or a failure outside any one query
        await ports.replies.publish(_as_failure(request, error, ports).failure)
        return
    cited, everything = pool.select(strictness=source.strictness, top_n=source.top_n_documents,
                                    hybrid=is_hybrid(source, ports))
    citations = [citation_of(r, source) for r in cited]
    log.info("request %s grounded on %d of %d retrieved documents (%d queries)", request.request_id,
             len(citations), len(everything), len(queries))
    everything_shown = "all_retrieved_documents" in source.include_contexts
    await ports.replies.publish(GroundingFound(
        **request.envelope(), citations=citations, intent=intent_of(queries),
        all_retrieved_documents=_all_retrieved(everything, source) if everything_shown else []))
    await ports.submissions.publish(PromptSubmitted(
        **request.envelope(), model=request.model,
        messages=augment(request.messages, grounding_message(citations, in_scope=source.in_scope)),
        sampling=request.sampling, stream=request.stream, end_user=request.end_user, adapter=request.adapter,
        documents=[c.content for c in citations], grounding_message=grounding_position(request.messages),
        answer_without_model=NOT_FOUND_ANSWER if source.in_scope and not citations else None))
