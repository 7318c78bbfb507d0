"""OpenTelemetry set-up. Trace context crosses services in Kafka headers (W3C traceparent).

The exporter is chosen by the standard variables: ``OTEL_TRACES_EXPORTER`` (``otlp``, ``console``,
``none``; comma-separated for several) and, for OTLP over HTTP/protobuf, ``OTEL_EXPORTER_OTLP_ENDPOINT``
or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` with ``_HEADERS``, ``_CERTIFICATE``, ``_TIMEOUT`` and so on,
which the exporter reads itself; batching by ``OTEL_BSP_*``. Without ``OTEL_TRACES_EXPORTER``, spans
go to OTLP when an endpoint is set and nowhere otherwise (no exporter retrying a collector that is not
there). ``OTEL_SDK_DISABLED=true`` turns it all off; ``OTEL_SERVICE_NAME`` and
``OTEL_RESOURCE_ATTRIBUTES`` name the process.

The first provider a process makes becomes the global one, which ``trace.get_tracer`` in the
services' modules (filter layers, retrieval's query, vLLM's queue and engine) uses.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler, SamplingResult
from opentelemetry.util.types import Attributes, AttributeValue

_OTLP_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def exporter_names(environ: Mapping[str, str] = os.environ) -> list[str]:
    """The exporters the environment asks for, ``[]`` for none."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    chosen = environ.get("OTEL_TRACES_EXPORTER")
    if chosen is None:
        return ["otlp"] if any(environ.get(v) for v in _OTLP_ENDPOINTS) else []
    names = [n.strip().lower() for n in chosen.split(",") if n.strip()]
    unknown = set(names) - {"otlp", "console", "none"}
    if unknown:
        raise ValueError(f"OTEL_TRACES_EXPORTER: unsupported exporter(s) {sorted(unknown)}; "
                         "use otlp, console or none")
    return [n for n in names if n != "none"]


def _otlp_exporter() -> SpanExporter:
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL",
                                                                                  "http/protobuf"))
    if protocol != "http/protobuf":
        raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: only http/protobuf is installed")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    return OTLPSpanExporter()


def make_tracer_provider(service: str, region: str, *, console: bool = False,
                         exporters: Sequence[SpanExporter] = ()) -> TracerProvider:
    """A provider per service. Spans carry IDs, topic names and sizes only, never message bodies.

    ``exporters`` are added to those the environment asks for (tests pass an in-memory one)."""
    attributes: dict[str, AttributeValue] = {"cloud.region": region, "service.namespace": "residency"}
    if not os.environ.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = f"residency-{service}"
    names = exporter_names()
    if console and "console" not in names:
        names.append("console")
    # OTEL_TRACES_SAMPLER, when set, decides; otherwise spans are recorded once something receives them.
    sampler = None if os.environ.get("OTEL_TRACES_SAMPLER") else RecordWhenExported(exporting=bool(names))
    provider = TracerProvider(resource=Resource.create(attributes), sampler=sampler)
    for name in names:
        if name == "otlp":
            provider.add_span_processor(BatchSpanProcessor(_otlp_exporter()))
        else:
            provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(formatter=_one_line)))
    for exporter in exporters:
        add_exporter(provider, exporter)
    _make_global(provider)
    return provider


class RecordWhenExported(Sampler):
    """Records spans only once an exporter receives them. Before that, each span is a context with
    IDs — still propagated in the Kafka headers and logged — without attributes, events or timing:
    the profile showed recording spans nobody receives cost the filter ~6 % of its CPU per message.
    A sampled parent (a caller's, or another service's that exports) is followed either way."""

    def __init__(self, *, exporting: bool = False) -> None:
        self.exporting = exporting
        self._recording, self._dropping = ParentBased(ALWAYS_ON), ParentBased(ALWAYS_OFF)

    def should_sample(self, parent_context: context.Context | None, trace_id: int, name: str,
                      kind: trace.SpanKind | None = None, attributes: Attributes = None,
                      links: Sequence[trace.Link] | None = None,
                      trace_state: trace.TraceState | None = None) -> SamplingResult:
        sampler = self._recording if self.exporting else self._dropping
        return sampler.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def drops(self, parent: trace.SpanContext) -> bool:
        """What ``should_sample`` decides for a span under ``parent`` (invalid for a root), without the
        call: the bus asks per message and then makes no SDK span (services.runtime.bus_telemetry)."""
        if parent.is_valid:  # ParentBased: a remote or local parent's sampled flag decides
            return not parent.trace_flags.sampled
        return not self.exporting

    def get_description(self) -> str:
        return "RecordWhenExported"


def add_exporter(provider: TracerProvider, exporter: SpanExporter) -> None:
    """Send the provider's spans to ``exporter`` too (tests: an in-memory one), recording them from now on."""
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    if isinstance(provider.sampler, RecordWhenExported):
        provider.sampler.exporting = True


def _one_line(span: ReadableSpan) -> str:
    """A finished span as one JSON line (the SDK's own format fails on bytes attributes, which
    the bus's Kafka spans carry: the message key)."""
    context = span.get_span_context()
    return json.dumps({
        "span": span.name, "trace_id": format(context.trace_id, "032x") if context else None,
        "span_id": format(context.span_id, "016x") if context else None,
        "parent_id": format(span.parent.span_id, "016x") if span.parent else None,
        "service": (span.resource.attributes.get("service.name")), "kind": span.kind.name,
        "duration_ms": round(((span.end_time or 0) - (span.start_time or 0)) / 1e6, 3),
        "attributes": dict(span.attributes or {})}, default=repr) + "\n"


_global_set = False


def _make_global(provider: TracerProvider) -> None:
    global _global_set
    if not _global_set:  # the API refuses (and warns about) a second global provider
        _global_set = True
        trace.set_tracer_provider(provider)


def context_of_headers(headers: Sequence[tuple[str, bytes]] | Mapping[str, str] | None) -> context.Context:
    """The trace context a Kafka record carries (its ``traceparent`` header), for records handled
    outside the bus's per-message span (batches)."""
    if headers is None:
        return context.get_current()
    if isinstance(headers, Mapping):
        return propagate.extract(headers)
    return propagate.extract({k: v.decode("latin-1") for k, v in headers if v is not None})


def record_span(tracer: trace.Tracer, name: str, start_monotonic: float, end_monotonic: float,
                attributes: Mapping[str, AttributeValue] | None = None) -> None:
    """A span for an interval measured elsewhere on the monotonic clock (vLLM's engine core runs in
    another process but on the same machine's clock), as a child of the current span."""
    now_ns, now_mono = time.time_ns(), time.monotonic()
    start_ns = now_ns - int((now_mono - start_monotonic) * 1e9)
    end_ns = now_ns - int((now_mono - end_monotonic) * 1e9)
    span = tracer.start_span(name, start_time=start_ns, attributes=attributes)
    span.end(end_time=max(end_ns, start_ns))
