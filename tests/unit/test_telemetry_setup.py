"""Which span exporters the OTEL_* variables select, and the JSON log line's fields."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from services.runtime.logs import JsonLines, bind_request_id
from services.runtime.tracing import exporter_names


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, []),  # nothing configured: no exporter retrying a collector that is not there
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["otlp"]),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, ["otlp"]),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, []),
    ({"OTEL_TRACES_EXPORTER": "console"}, ["console"]),
    ({"OTEL_TRACES_EXPORTER": "otlp,console"}, ["otlp", "console"]),
    ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, []),
    ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, []),
])
def test_exporters_follow_the_standard_variables(environ, expected):
    assert exporter_names(environ) == expected


def test_an_unknown_exporter_is_refused_at_start_up():
    with pytest.raises(ValueError, match="zipkin"):
        exporter_names({"OTEL_TRACES_EXPORTER": "zipkin"})


def test_a_log_line_is_one_json_object_with_request_and_trace_ids():
    record = logging.LogRecord("residency.filter", logging.INFO, __file__, 1, "request %s\nblocked", ("r-1",), None)
    tracer = TracerProvider().get_tracer("t")
    bind_request_id("r-1")
    try:
        with tracer.start_as_current_span("s") as span:
            line = JsonLines("filter").format(record)
    finally:
        bind_request_id(None)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "request r-1\nblocked"
    assert (entry["service"], entry["level"], entry["request_id"]) == ("filter", "INFO", "r-1")
    assert entry["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert "trace_id" not in json.loads(JsonLines("filter").format(record)), "no span, no trace ID"
    assert trace.get_current_span().get_span_context().is_valid is False


def test_spans_nobody_receives_are_not_recorded_but_their_ids_still_travel(monkeypatch):
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from services.runtime.tracing import make_tracer_provider
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                 "OTEL_TRACES_SAMPLER"):
        monkeypatch.delenv(name, raising=False)
    quiet = make_tracer_provider("filter", "eu-west").get_tracer("t").start_span("consume")
    assert not quiet.is_recording() and quiet.get_span_context().is_valid  # IDs for logs and headers
    exported = InMemorySpanExporter()
    loud = make_tracer_provider("filter", "eu-west", exporters=[exported]).get_tracer("t").start_span("consume")
    assert loud.is_recording()
    loud.end()
    assert [s.name for s in exported.get_finished_spans()] == ["consume"]
