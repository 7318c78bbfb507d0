"""Retrieval's query spans: one search span per grounded request, one query span per search query
under it, without the query's text (the stack's trace test covers filter, vLLM and retention)."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.retrieval.handlers import ground_request
from services.runtime.tracing import add_exporter
from tests.unit.test_retrieval import ARTICLES, FakeCustomerDocuments, grounding_request, retrieval_ports


def memory_exporter() -> InMemorySpanExporter:
    """Spans of the process-wide provider (the first one a process makes stays global)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    add_exporter(provider, exporter)
    return exporter


async def test_a_grounded_request_has_a_search_span_with_a_span_per_query():
    exporter = memory_exporter()
    ports, _ = retrieval_ports(FakeCustomerDocuments(ARTICLES))
    await ground_request(grounding_request(), ports)
    spans = exporter.get_finished_spans()
    [search] = [s for s in spans if s.name == "retrieval.search"]
    queries = [s for s in spans if s.name == "retrieval.query"]
    assert len(queries) == search.attributes["residency.retrieval.queries"] >= 1
    assert all(q.parent.span_id == search.context.span_id for q in queries)
    assert all(q.attributes["residency.retrieval.hybrid"] is False for q in queries)
    text = "refund policy for shoes"
    assert not any(text in str(v) for s in (search, *queries) for v in (s.attributes or {}).values())
