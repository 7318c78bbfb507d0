"""Spans and counts of every message the bus consumes or publishes, at a small cost per message.

It replaces FastStream's ``KafkaTelemetryMiddleware`` and ``KafkaPrometheusMiddleware``, which
took much of the ~21 % of the filter's CPU its profile put on the publish path (issue 11). What
callers, dashboards and the stack's tests rely on is kept, with FastStream's names and kinds:

- a consumed message: a ``<topic> process`` consumer span continuing the trace of its
  ``traceparent`` header, current while the handler runs (its log lines carry its IDs, and what
  it publishes continues its trace); a batch: one such span of a trace of its own, linked to its
  records' (services.runtime.batches gives each record its own span in the record's trace);
- a publish: a ``<topic> create`` producer span whose context the record carries (W3C
  ``traceparent``), and under it a ``<topic> publish`` producer span around the send;
- the ``residency_bus_*`` metrics (services.runtime.bus_metrics, children bound once per topic).

Cheaper: one middleware for both; attributes built only for spans that record; no ``publish`` span
for a ``create`` span that does not record (nobody sees it, its ID travels nowhere); and when the
sampler is ``RecordWhenExported`` and would drop the span, no SDK span at all: the span's IDs are
made here, so they still travel in the headers and reach the log lines.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

from faststream import BaseMiddleware
from faststream.exceptions import IgnoredException
from faststream.prometheus.consts import PROCESSING_STATUS_BY_ACK_STATUS, PROCESSING_STATUS_BY_HANDLER_EXCEPTION_MAP
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from services.runtime.bus_metrics import BusMetrics
from services.runtime.tracing import RecordWhenExported, context_of_headers

_PROPAGATOR = TraceContextTextMapPropagator()
_KAFKA = {"messaging.system": "kafka"}


class BusTelemetry:
    """The broker middleware (FastStream calls it for each message and each publish)."""

    def __init__(self, *, service: str, tracer_provider: trace.TracerProvider | None = None) -> None:
        self.tracer = trace.get_tracer("residency.bus", tracer_provider=tracer_provider)
        self.metrics = BusMetrics(f"residency-{service}")
        sampler = getattr(self.tracer, "sampler", None)  # an SDK tracer's (shared with its provider)
        self._sampler = sampler if isinstance(sampler, RecordWhenExported) else None
        self._ids = getattr(self.tracer, "id_generator", None)
        self._names: dict[str, tuple[str, str, str]] = {}

    def __call__(self, msg: Any, /, *, context: Any) -> _Scope:
        return _Scope(msg, context=context, telemetry=self)

    def names(self, topic: str) -> tuple[str, str, str]:
        """The ``process``, ``create`` and ``publish`` span names of a topic."""
        names = self._names.get(topic)
        if names is None:
            names = self._names[topic] = (f"{topic} process", f"{topic} create", f"{topic} publish")
        return names

    def start(self, name: str, parent: Context | None, kind: SpanKind) -> Span:
        """A span under ``parent`` (None: the current context); one without the SDK when the sampler
        is ``RecordWhenExported`` and would drop it: new IDs, the SDK's flags, nothing recorded."""
        above = trace.get_current_span(parent).get_span_context()
        if self._sampler is None or self._ids is None or not self._sampler.drops(above):
            return self.tracer.start_span(name, context=parent, kind=kind)
        if above.is_valid:
            trace_id, state = above.trace_id, above.trace_state
            flags = TraceFlags(above.trace_flags & TraceFlags.RANDOM_TRACE_ID)
        else:
            trace_id, state = self._ids.generate_trace_id(), None
            flags = TraceFlags(TraceFlags.RANDOM_TRACE_ID if self._ids.is_trace_id_random() else TraceFlags.DEFAULT)
        return NonRecordingSpan(SpanContext(trace_id, self._ids.generate_span_id(), is_remote=False,
                                            trace_flags=flags, trace_state=state))


class _Scope(BaseMiddleware):
    """One message's (or one publish's) pass through the telemetry."""

    __slots__ = ("_telemetry",)

    def __init__(self, msg: Any, /, *, context: Any, telemetry: BusTelemetry) -> None:
        super().__init__(msg, context=context)
        self._telemetry = telemetry

    async def consume_scope(self, call_next: Any, msg: Any) -> Any:
        telemetry, raw = self._telemetry, msg.raw_message
        if isinstance(raw, tuple):  # a batch subscriber's records
            topic, count, size = raw[0].topic, len(raw), sum(len(record.value or b"") for record in raw)
            parent = Context()
        else:
            topic, count, size = raw.topic, 1, len(msg.body)
            parent = _PROPAGATOR.extract(msg.headers)
        span = telemetry.start(telemetry.names(topic)[0], parent, SpanKind.CONSUMER)
        if span.is_recording():
            _describe_consumed(span, msg, raw, size)
        children = telemetry.metrics.consumed(topic)
        children.received.inc(count)
        children.size.observe(size)
        children.in_process.inc(count)
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        error: Exception | None = None
        began = perf_counter()
        try:
            return await call_next(msg)
        except Exception as failure:
            error = failure
            if not isinstance(failure, IgnoredException):
                children.exception(type(failure).__name__).inc()
            _record_failure(span, failure)
            raise
        finally:
            otel_context.detach(token)
            span.end()
            children.duration.observe(perf_counter() - began)
            children.in_process.dec(count)
            children.processed(_status(msg, error)).inc(count)

    async def publish_scope(self, call_next: Any, cmd: Any) -> Any:
        telemetry = self._telemetry
        _, create_name, publish_name = telemetry.names(cmd.destination)
        create = telemetry.start(create_name, None, SpanKind.PRODUCER)  # under the current span
        _inject(cmd.headers, create.get_span_context())
        attributes = None
        if create.is_recording():
            attributes = {**_KAFKA, "messaging.destination.name": cmd.destination,
                          "messaging.message.conversation_id": cmd.correlation_id}
            if cmd.partition is not None:
                attributes["messaging.kafka.destination.partition"] = cmd.partition
            if cmd.key is not None:
                attributes["messaging.kafka.message.key"] = cmd.key
            create.set_attributes(attributes)
            create.end()
        children = telemetry.metrics.published(cmd.destination)
        status = "success"
        began = perf_counter()
        try:
            if attributes is None:
                return await call_next(cmd)
            with telemetry.tracer.start_as_current_span(
                    publish_name, context=trace.set_span_in_context(create), kind=SpanKind.PRODUCER,
                    attributes={**attributes, "messaging.operation": "publish"}):
                return await call_next(cmd)
        except Exception as failure:
            status = "error"
            children.exception(type(failure).__name__).inc()
            raise
        finally:
            children.duration.observe(perf_counter() - began)
            children.published(status).inc(len(cmd.batch_bodies))


def _inject(headers: dict[str, Any], span: SpanContext) -> None:
    """W3C trace context, as TraceContextTextMapPropagator writes it (without a context to build)."""
    if span.is_valid:
        headers["traceparent"] = f"00-{span.trace_id:032x}-{span.span_id:016x}-{span.trace_flags:02x}"
        if span.trace_state:
            headers["tracestate"] = span.trace_state.to_header()


def _describe_consumed(span: Span, msg: Any, raw: Any, size: int) -> None:
    """FastStream's attributes of a consumer span; a batch's span is linked to its records' spans."""
    first = raw[0] if isinstance(raw, tuple) else raw
    span.set_attributes({
        **_KAFKA, "messaging.message.id": msg.message_id, "messaging.message.conversation_id": msg.correlation_id,
        "messaging.message.payload_size_bytes": size, "messaging.kafka.destination.partition": first.partition,
        "messaging.destination_publish.name": first.topic, "messaging.operation": "process"})
    if not isinstance(raw, tuple):
        span.set_attribute("messaging.kafka.message.offset", raw.offset)
        if raw.key is not None:
            span.set_attribute("messaging.kafka.message.key", raw.key)
        return
    span.set_attribute("messaging.batch.message_count", len(raw))
    for record in raw:
        linked = trace.get_current_span(context_of_headers(record.headers or ())).get_span_context()
        if linked.is_valid:
            span.add_link(linked)


def _record_failure(span: Span, error: Exception) -> None:
    """As the SDK records an exception escaping a span's ``with`` block."""
    if span.is_recording():
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))


def _status(msg: Any, error: Exception | None) -> str:
    """FastStream's processing status: the acknowledgement made in the handler, else the error's."""
    if msg.committed is None and error is None:
        return "acked"
    status = (PROCESSING_STATUS_BY_ACK_STATUS.get(msg.committed)
              or PROCESSING_STATUS_BY_HANDLER_EXCEPTION_MAP.get(type(error)))
    return status.value if status is not None else "error"
