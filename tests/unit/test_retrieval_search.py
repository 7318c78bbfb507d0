"""Retrieval's search on fakes: queries from the conversation, the in-memory vector index, hybrid
grounding, all_retrieved_documents, partial results, and in-scope answers without the model."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from contracts.gateway_replies import GroundingFound, RequestFailed
from contracts.grounding_requests_v2 import ConnectionDataSource, GroundingRequested
from contracts.prompt_submissions import PromptSubmitted
from services.connections.endpoint import HostPort, MongoEndpoint
from services.connections.model import DataConnection
from services.retrieval.errors import DataSourceUnavailable
from services.retrieval.grounding import NOT_FOUND_ANSWER
from services.retrieval.handlers import RetrievalPorts, ground_request
from services.retrieval.search_queries import intent_of, search_queries
from services.retrieval.vector_index import CollectionMarker, IndexKey, VectorIndexes, build_index
from tests.unit.builders import MODEL, RESOURCE_ID, Recorder, chat, envelope, sampling
from tests.unit.connection_fakes import InMemoryDataConnections

# ---- queries from the conversation ----


def test_the_last_user_turn_is_the_query_and_a_follow_up_carries_the_earlier_turn():
    standalone = chat(("user", "hi"), ("user", "What is the refund policy for shoes?"))
    assert search_queries(standalone, None) == ["What is the refund policy for shoes?"]
    follow_up = chat(("user", "What is the refund policy for shoes?"), ("assistant", "30 days."),
                     ("user", "How long does it take?"))
    assert search_queries(follow_up, None) == ["How long does it take?", "refund policy shoes long take"]
    assert search_queries(follow_up, 1) == ["How long does it take?"]
    assert json.loads(intent_of(search_queries(follow_up, None)))[1] == "refund policy shoes long take"


def test_no_user_turn_means_no_query():
    assert search_queries(chat(("system", "Be brief.")), None) == []


# ---- the vector index ----


def clustered(n: int, dims: int = 32, clusters: int = 40, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dims))
    return (centres[rng.integers(clusters, size=n)] + 0.35 * rng.normal(size=(n, dims))).astype(np.float32)


MARKER = CollectionMarker(count=0, newest_id="")


def test_ivf_finds_what_exact_search_finds():
    vectors = clustered(6000)
    ids = list(range(len(vectors)))
    exact = build_index(ids, vectors, MARKER, complete=True, exact_limit=10_000)
    ivf = build_index(ids, vectors, MARKER, complete=True, exact_limit=1000)
    assert exact.centroids is None and ivf.centroids is not None
    queries = clustered(200, seed=7)
    recall = np.mean([len({i for i, _ in exact.search(q, 5, 12)} & {i for i, _ in ivf.search(q, 5, 12)}) / 5
                      for q in queries])
    assert recall >= 0.95
    best, score = exact.search(vectors[42], 1, 12)[0]
    assert best == 42 and score == pytest.approx(1.0, abs=1e-5)


def key(name: str = "kb") -> IndexKey:
    return IndexKey(RESOURCE_ID, name, 0.0, "kb", "articles", "vector")


def loader(vectors: np.ndarray, calls: list[int], delay_s: float = 0.0):
    def load(max_bytes: int):
        async def rows():
            calls.append(max_bytes)
            await asyncio.sleep(delay_s)
            for i, v in enumerate(vectors):
                yield f"doc-{i}", v.tolist()
        return rows()
    return load


def indexes(**bounds: Any) -> VectorIndexes:
    settings = dict(max_index_bytes=1 << 30, max_total_bytes=1 << 30, ttl_s=600, refresh_s=600,
                    exact_limit=1000, probes=8)
    return VectorIndexes(**{**settings, **bounds})


async def test_concurrent_callers_share_one_build_and_a_cancelled_caller_does_not_cancel_it():
    calls: list[int] = []
    registry = indexes()

    async def marker() -> CollectionMarker:
        return MARKER

    load = loader(clustered(100), calls, delay_s=0.2)
    impatient = asyncio.create_task(registry.index(key(), load, marker))
    await asyncio.sleep(0.05)
    impatient.cancel()
    first, second = await asyncio.gather(registry.index(key(), load, marker), registry.index(key(), load, marker))
    assert first is second and len(first.ids) == 100 and calls == [1 << 30]


async def test_a_changed_collection_is_indexed_again_and_a_bound_cuts_an_index_short():
    calls: list[int] = []
    registry = indexes(refresh_s=0.0, max_index_bytes=50 * (4 * 32 + 64))
    state = {"marker": MARKER}

    async def marker() -> CollectionMarker:
        return state["marker"]

    load = loader(clustered(100), calls)
    index = await registry.index(key(), load, marker)
    assert len(index.ids) == 50 and not index.complete
    assert await registry.index(key(), load, marker) is index  # unchanged: no rebuild
    state["marker"] = CollectionMarker(count=101, newest_id="doc-100")
    assert await registry.index(key(), load, marker) is not index and len(calls) == 2


async def test_the_total_bound_evicts_the_least_recently_used_index_and_drop_forgets_a_connection():
    one = 100 * (4 * 32) + 64 * 100
    registry = indexes(max_total_bytes=int(2.5 * one))

    async def marker() -> CollectionMarker:
        return MARKER

    for name in ("a", "b", "c"):
        await registry.index(key(name), loader(clustered(100), []), marker)
    assert [k.connection for k in registry.index_keys()] == ["b", "c"]
    assert registry.drop(RESOURCE_ID, "b") == 1 and [k.connection for k in registry.index_keys()] == ["c"]


# ---- hybrid grounding through the handler ----

DOCS = {
    "kb-tides": {"_id": "kb-tides", "title": "Tides", "content": "The moon pulls the oceans twice a day.",
                 "vector": [1.0, 0.0, 0.0]},
    "kb-bread": {"_id": "kb-bread", "title": "Bread", "content": "Sourdough bread rises with wild yeast.",
                 "vector": [0.0, 1.0, 0.0]},
}
CONNECTION = DataConnection(resource_id=RESOURCE_ID, name="kb", database="kb", username=None, password=None,
                            endpoint=MongoEndpoint(hosts=(HostPort("customer.example", 27017),)),
                            created_at=datetime(2026, 11, 1, tzinfo=UTC))


class FakeDocuments:
    def __init__(self, *, failing_terms: list[str] | None = None, slow_scan_s: float = 0.0) -> None:
        self.failing_terms = failing_terms  # the one query whose read fails
        self.slow_scan_s = slow_scan_s  # a keyword scan of a large collection without a text index

    async def candidates(self, connection, source, terms, limit):
        await asyncio.sleep(self.slow_scan_s)
        if terms == self.failing_terms:
            raise DataSourceUnavailable("NetworkTimeout")
        return [d for d in DOCS.values() if any(t in d["content"].lower() for t in terms)][:limit]

    async def by_ids(self, connection, source, ids):
        return [DOCS[i] for i in ids if i in DOCS]

    async def vectors(self, connection, source, field, max_bytes):
        for d in DOCS.values():
            yield d["_id"], d[field]

    async def marker(self, connection, source):
        return CollectionMarker(count=len(DOCS), newest_id=max(DOCS))


class FakeEmbedder:
    """Embeds anything about the sea or the moon near the tides document."""

    async def embed(self, request, queries):
        return [[1.0, 0.1, 0.0] if any(w in q.lower() for w in ("sea", "moon", "ocean")) else [0.0, 0.0, 1.0]
                for q in queries]


def request_for(question: str, **source: Any) -> GroundingRequested:
    fields = dict(connection="kb", database_name="kb", collection_name="articles", title_field="title",
                  vector_fields=["vector"], embedding_deployment="emb", embedding_model="minilm")
    return GroundingRequested(**envelope(), model=MODEL, sampling=sampling(), messages=chat(("user", question)),
                              data_source=ConnectionDataSource(**{**fields, **source}))


def ports(documents: FakeDocuments | None = None, deadline_s: float = 5.0) -> tuple[RetrievalPorts, list]:
    timeline: list = []
    connections = InMemoryDataConnections()
    connections.connections[(RESOURCE_ID, "kb")] = CONNECTION
    return RetrievalPorts(connections=connections, documents=documents or FakeDocuments(),
                          submissions=Recorder("submissions", timeline), replies=Recorder("replies", timeline),
                          max_candidates=50, deadline_s=deadline_s, indexes=indexes(),
                          embedder=FakeEmbedder()), timeline


async def test_a_vector_match_without_a_shared_word_is_cited():
    retrieval, timeline = ports()
    await ground_request(request_for("Why does the sea rise and fall?"), retrieval)
    found, submitted = timeline[0][1], timeline[1][1]
    assert isinstance(found, GroundingFound) and [c.chunk_id for c in found.citations] == ["kb-tides"]
    assert json.loads(found.intent) == ["Why does the sea rise and fall?"]
    assert found.all_retrieved_documents == [], "only when include_contexts asks for it"
    assert isinstance(submitted, PromptSubmitted) and submitted.answer_without_model is None
    assert submitted.documents == [DOCS["kb-tides"]["content"]]


async def test_all_retrieved_documents_show_scores_queries_and_why_one_was_left_out():
    retrieval, timeline = ports()
    request = request_for("Why does the sea rise and fall? And bread?", strictness=5,
                          include_contexts=["citations", "intent", "all_retrieved_documents"])
    await ground_request(request, retrieval)
    found = timeline[0][1]
    shown = {d.chunk_id: d for d in found.all_retrieved_documents}
    assert [c.chunk_id for c in found.citations] == ["kb-tides"]
    assert shown["kb-tides"].filter_reason is None and shown["kb-bread"].filter_reason == "score"
    assert shown["kb-tides"].search_queries == [request.messages[-1].content]
    assert shown["kb-tides"].original_search_score > 0


async def test_in_scope_with_nothing_relevant_answers_without_the_model_but_screens_the_prompt():
    retrieval, timeline = ports()
    await ground_request(request_for("Quantum chromodynamics lattice gauge?"), retrieval)
    found, submitted = timeline[0][1], timeline[1][1]
    assert found.citations == []
    assert submitted.answer_without_model == NOT_FOUND_ANSWER
    retrieval, timeline = ports()
    await ground_request(request_for("Quantum chromodynamics lattice gauge?", in_scope=False), retrieval)
    assert timeline[1][1].answer_without_model is None


async def test_a_failed_query_fails_the_request_unless_partial_results_are_allowed():
    conversation = chat(("user", "Tell me about the moon tides"), ("assistant", "..."), ("user", "and bread?"))
    failing = FakeDocuments(failing_terms=["bread"])  # queries: "and bread?", "moon tides bread"

    def grounded(**source: Any) -> GroundingRequested:
        return request_for("x", **source).model_copy(update={"messages": conversation})

    retrieval, timeline = ports(failing)
    await ground_request(grounded(), retrieval)
    assert isinstance(timeline[0][1], RequestFailed) and timeline[0][1].error.code == "data_source_unavailable"
    retrieval, timeline = ports(failing)
    await ground_request(grounded(allow_partial_result=True), retrieval)
    found = timeline[0][1]
    assert isinstance(found, GroundingFound) and [c.chunk_id for c in found.citations] == ["kb-tides"]


def test_vectors_are_read_as_arrays_or_as_bson_float32_vectors():
    from bson.binary import Binary, BinaryVectorDtype

    from services.retrieval.adapters.mongo_documents import _vector

    assert list(_vector(Binary.from_vector([0.5, -1.0], BinaryVectorDtype.FLOAT32))) == [0.5, -1.0]
    assert _vector([1, 2.5]) == [1, 2.5]
    assert _vector(Binary.from_vector([1, 0], BinaryVectorDtype.INT8)) is None
    assert _vector("not a vector") is None and _vector([]) is None and _vector(["a"]) is None


async def test_a_keyword_scan_over_its_budget_scores_the_vector_hits_instead_of_failing():
    retrieval, timeline = ports(FakeDocuments(slow_scan_s=30), deadline_s=1.0)
    began = asyncio.get_running_loop().time()
    await ground_request(request_for("moon tides and the sea?"), retrieval)
    found = timeline[0][1]
    assert isinstance(found, GroundingFound) and found.citations[0].chunk_id == "kb-tides"
    assert asyncio.get_running_loop().time() - began < 1.0
