"""OpenTelemetry set-up. Trace context crosses services in Kafka headers (W3C traceparent)."""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor


def make_tracer_provider(service: str, region: str, *, console: bool = False) -> TracerProvider:
    """A provider per service. Spans carry IDs and topic names only, never message bodies."""
    provider = TracerProvider(resource=Resource.create(
        {"service.name": f"residency-{service}", "cloud.region": region}))
    if console:
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    return provider

