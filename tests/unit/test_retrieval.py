"""Retrieval: keyword ranking, and grounding a request on a fake customer collection."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId

from contracts.gateway_replies import GroundingFound, RequestFailed
from contracts.grounding_requests_v2 import ConnectionDataSource, GroundingRequested
from contracts.prompt_submissions import PromptSubmitted
from services.connections.endpoint import HostPort, MongoEndpoint
from services.connections.errors import EndpointRefused
from services.connections.model import DataConnection
from services.retrieval.errors import CredentialsUnreadable, DataSourceUnavailable
from services.retrieval.handlers import RetrievalPorts, ground_request
from services.retrieval.ranking import query_terms
from services.retrieval.search import Pool, bm25_scores
from tests.unit.builders import MODEL, REPLY_TO, REQUEST_ID, RESOURCE_ID, Recorder, chat, envelope, sampling
from tests.unit.connection_fakes import InMemoryDataConnections


def test_query_terms_drop_stopwords_short_words_and_duplicates():
    assert query_terms("What is the Refund policy for refunds? Refund my ox, OK?") == [
        "refund", "policy", "refunds"]


def test_query_terms_of_only_stopwords_are_empty():
    assert query_terms("What is it to me?") == []


def doc(text: str, **fields: Any) -> dict[str, Any]:
    return {"content": text, **fields}


def keyword_pool(documents: list[dict[str, Any]], terms: list[str], fields: list[str] | None = None) -> Pool:
    pool = Pool(fields or ["content"])
    pool.add_keyword("q", terms, documents)
    return pool


def cited_ids(pool: Pool, *, strictness: int = 1, top_n: int = 5, hybrid: bool = False) -> list[str]:
    return [r.key for r in pool.select(strictness=strictness, top_n=top_n, hybrid=hybrid)[0]]


def test_keyword_ranking_orders_by_coverage_before_bm25():
    terms = ["refund", "policy", "shoes"]
    partial = doc("refund refund refund refund policy", _id=1)
    complete = doc("our refund policy for shoes", _id=2)
    pool = keyword_pool([partial, complete], terms)
    assert cited_ids(pool) == ["2", "1"]
    assert [round(r.coverage, 2) for r in pool.select(strictness=1, top_n=5, hybrid=False)[0]] == [1.0, 0.67]


def test_strictness_drops_documents_below_its_coverage_and_says_why():
    terms = ["refund", "policy", "shoes"]
    docs = [doc("refund policy", _id="two-of-three"), doc("shoes", _id="one-of-three"),
            doc("unrelated text", _id="none")]
    assert cited_ids(keyword_pool(docs, terms), strictness=1) == ["two-of-three", "one-of-three"]
    assert cited_ids(keyword_pool(docs, terms), strictness=4) == ["two-of-three"]
    assert cited_ids(keyword_pool(docs, terms), strictness=5) == []
    _, everything = keyword_pool(docs, terms).select(strictness=4, top_n=5, hybrid=False)
    assert {r.key: r.filter_reason for r in everything} == {"two-of-three": None, "one-of-three": "score",
                                                            "none": "score"}


def test_top_n_keeps_the_best_and_marks_the_rest_as_reranked_away():
    docs = [doc(f"refund number {i}", _id=i) for i in range(4)] + [{"body": "refund in body", "_id": "b"}]
    pool = keyword_pool(docs, ["refund"], ["content", "body"])
    assert sorted(cited_ids(pool, top_n=10)) == ["0", "1", "2", "3", "b"]
    cited, everything = pool.select(strictness=3, top_n=2, hybrid=False)
    assert len(cited) == 2 and sum(r.filter_reason == "rerank" for r in everything) == 3


def test_bm25_prefers_rarer_terms_and_shorter_documents():
    scores = bm25_scores({"rare": "the zebra grazes", "common": "the the the grass grass",
                          "long": "zebra " + "filler " * 50}, ["zebra", "grass"])
    assert scores["rare"][0] > scores["long"][0] > 0
    assert scores["common"][1] == 0.5 and scores["rare"][1] == 0.5


def test_nothing_is_cited_without_search_terms():
    assert cited_ids(keyword_pool([doc("anything at all")], [])) == []


class FakeCustomerDocuments:
    def __init__(self, documents: list[dict[str, Any]] | None = None, *, fails_with: Exception | None = None,
                 hangs: bool = False) -> None:
        self.documents = documents or []
        self.fails_with = fails_with
        self.hangs = hangs
        self.asked: list[tuple[str, list[str], int]] = []

    async def candidates(self, connection: DataConnection, source: ConnectionDataSource, terms: list[str],
                         limit: int) -> list[dict[str, Any]]:
        self.asked.append((connection.name, terms, limit))
        if self.hangs:
            await asyncio.sleep(3600)  # a server that accepted and never answers
        if self.fails_with is not None:
            raise self.fails_with
        return self.documents[:limit]


SOURCE = ConnectionDataSource(connection="kb-prod", database_name="kb", collection_name="articles",
                              content_fields=["body"], title_field="heading", url_field="link",
                              top_n_documents=3, strictness=2)
CONNECTION = DataConnection(resource_id=RESOURCE_ID, name="kb-prod", database="kb", username=None, password=None,
                            endpoint=MongoEndpoint(hosts=(HostPort("customer.example", 27017),)),
                            created_at=datetime(2026, 11, 1, tzinfo=UTC))
RETURNS_ID, SHIPPING_ID = ObjectId("65f2a1b2c3d4e5f601234567"), ObjectId("65f2a1b2c3d4e5f601234568")
ARTICLES = [
    {"_id": SHIPPING_ID, "heading": "Shipping", "link": "https://kb.example/shipping", "body": "Shoes ship in 3 days."},
    {"_id": RETURNS_ID, "heading": "Returns", "link": "https://kb.example/returns",
     "body": "Our refund policy: shoes can be returned within 30 days for a full refund."},
    {"_id": "no-match", "heading": "Hats", "body": "Hats are warm."},
]


def grounding_request(source: ConnectionDataSource = SOURCE) -> GroundingRequested:
    return GroundingRequested(
        **envelope(), model=MODEL, sampling=sampling(max_tokens=100), stream=True, end_user="user-7",
        data_source=source,
        messages=chat(("system", "You are the shop's assistant."), ("system", "Answer in English."),
                      ("user", "Hello"), ("assistant", "Hi! How can I help?"),
                      ("user", "What is the refund policy for shoes?")))


def retrieval_ports(documents: FakeCustomerDocuments, *, deadline_s: float = 5.0,
                    registered: bool = True) -> tuple[RetrievalPorts, list]:
    timeline: list = []
    connections = InMemoryDataConnections()
    if registered:
        connections.connections[(RESOURCE_ID, CONNECTION.name)] = CONNECTION
    return RetrievalPorts(connections=connections, documents=documents, submissions=Recorder("submissions", timeline),
                          replies=Recorder("replies", timeline), max_candidates=50, deadline_s=deadline_s), timeline


async def test_grounding_cites_documents_then_submits_the_augmented_prompt():
    documents = FakeCustomerDocuments(ARTICLES)
    ports, timeline = retrieval_ports(documents)
    request = grounding_request()
    await ground_request(request, ports)

    assert documents.asked == [("kb-prod", ["refund", "policy", "shoes"], 50)]
    assert [name for name, _ in timeline] == ["replies", "submissions"]
    found, submitted = timeline[0][1], timeline[1][1]
    assert isinstance(found, GroundingFound) and (found.request_id, found.reply_to) == (REQUEST_ID, REPLY_TO)
    assert [(c.chunk_id, c.title, c.url) for c in found.citations] == [
        (str(RETURNS_ID), "Returns", "https://kb.example/returns"),
        (str(SHIPPING_ID), "Shipping", "https://kb.example/shipping")]
    assert found.citations[0].content == ARTICLES[1]["body"]

    assert isinstance(submitted, PromptSubmitted)
    assert submitted.documents == [c.content for c in found.citations]
    assert submitted.grounding_message == 2, "after the caller's two leading system messages"
    roles = [m.role for m in submitted.messages]
    assert roles == ["system", "system", "system", "user", "assistant", "user"]
    assert submitted.messages[:2] == request.messages[:2] and submitted.messages[3:] == request.messages[2:]
    grounding = submitted.messages[2].content
    assert "[doc1] Returns" in grounding and ARTICLES[1]["body"] in grounding
    assert "[doc2] Shipping" in grounding and "Hats are warm." not in grounding
    assert (submitted.model, submitted.sampling, submitted.stream, submitted.end_user) == (
        MODEL, request.sampling, True, "user-7")


async def test_grounding_without_a_leading_system_message_puts_grounding_first():
    ports, timeline = retrieval_ports(FakeCustomerDocuments(ARTICLES))
    request = grounding_request().model_copy(update={"messages": chat(("user", "refund policy for shoes?"))})
    await ground_request(request, ports)

    submitted = timeline[-1][1]
    assert [m.role for m in submitted.messages] == ["system", "user"]
    assert "[doc1] Returns" in submitted.messages[0].content


async def failure_of(documents: FakeCustomerDocuments, **options: Any) -> tuple[RequestFailed, list]:
    ports, timeline = retrieval_ports(documents, **options)
    await ground_request(grounding_request(), ports)
    assert [name for name, _ in timeline] == ["replies"], "a failed request is answered once, never submitted"
    failed = timeline[0][1]
    assert isinstance(failed, RequestFailed) and failed.request_id == REQUEST_ID and failed.reply_to == REPLY_TO
    return failed, timeline


async def test_unavailable_data_source_fails_the_request_once():
    failed, _ = await failure_of(FakeCustomerDocuments(fails_with=DataSourceUnavailable("ServerSelectionTimeoutError")))
    assert (failed.error.status, failed.error.code, failed.error.param) == (
        400, "data_source_unavailable", "data_sources")


async def test_a_connection_not_registered_for_the_resource_is_never_read():
    documents = FakeCustomerDocuments(ARTICLES)
    failed, _ = await failure_of(documents, registered=False)
    assert (failed.error.status, failed.error.code) == (400, "data_source_not_registered")
    assert documents.asked == []


async def test_an_endpoint_refused_at_connect_time_is_a_400_with_the_policy_code():
    refused = EndpointRefused("The endpoint resolves to a loopback, private, link-local or reserved address.")
    failed, _ = await failure_of(FakeCustomerDocuments(fails_with=refused))
    assert (failed.error.status, failed.error.code) == (400, "data_source_refused")
    assert "private" in failed.error.message


async def test_a_silent_store_is_answered_at_the_deadline():
    began = time.monotonic()
    failed, _ = await failure_of(FakeCustomerDocuments(hangs=True), deadline_s=0.2)
    assert (failed.error.status, failed.error.code) == (400, "data_source_timeout")
    assert time.monotonic() - began < 1.0


async def test_credentials_that_do_not_open_are_a_server_error_without_detail():
    failed, _ = await failure_of(FakeCustomerDocuments(fails_with=CredentialsUnreadable("authentication failed")))
    assert (failed.error.status, failed.error.code) == (503, "data_connection_unreadable")
    assert "authentication failed" not in failed.error.message
