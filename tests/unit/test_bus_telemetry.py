"""The bus's own telemetry middleware (services.runtime.bus_telemetry), with fake messages and sends:
a consumer span continues the record's trace and is current in the handler, a publish carries the
current trace on (``traceparent``), spans nobody records cost no SDK span, the ``residency_bus_*``
children are bound once, and failures are counted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from faststream.prometheus.container import MetricsContainer
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import SpanContext, SpanKind, StatusCode, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

from services.runtime import bus_metrics
from services.runtime.bus import RequestIdMiddleware, make_broker
from services.runtime.bus_telemetry import BusTelemetry
from services.runtime.tracing import RecordWhenExported, add_exporter
from tests.unit.builders import Record

TOPIC, OUT = "eu-west.filter.prompt-submissions.v1", "eu-west.inference.requests.v1"
TRACE_ID, PARENT_ID = 0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331


def traceparent(sampled: bool, trace_id: int = TRACE_ID) -> str:
    return f"00-{trace_id:032x}-{PARENT_ID:016x}-{'01' if sampled else '00'}"


@dataclass
class Message:
    """The fields of FastStream's KafkaMessage the middleware reads."""

    raw_message: Any
    headers: dict[str, str] = field(default_factory=dict)
    committed: Any = None
    message_id: str = "m-1"
    correlation_id: str = "c-1"

    @property
    def body(self) -> bytes:
        return self.raw_message.value


@dataclass
class Command:
    """The fields of FastStream's KafkaPublishCommand the middleware reads."""

    destination: str = OUT
    headers: dict[str, str] = field(default_factory=dict)
    correlation_id: str = "c-2"
    partition: int | None = None
    key: bytes | None = b"contoso-eu"
    batch_bodies: tuple[Any, ...] = (b"{}",)


def consumed(sampled: bool | None = True, value: bytes = b'{"x": 1}') -> Message:
    headers = {} if sampled is None else {"traceparent": traceparent(sampled)}
    return Message(Record(value, offset=7, topic=TOPIC, headers=tuple((k, v.encode()) for k, v in headers.items())),
                   headers=headers)


def telemetry(service: str, *, exporting: bool) -> tuple[BusTelemetry, InMemorySpanExporter]:
    provider, exporter = TracerProvider(sampler=RecordWhenExported()), InMemorySpanExporter()
    if exporting:
        add_exporter(provider, exporter)
    return BusTelemetry(service=service, tracer_provider=provider), exporter


async def consume(bus: BusTelemetry, msg: Message, handler: Any = None) -> Any:
    async def call_next(message: Message) -> Any:
        return await handler(message) if handler else None
    return await bus(msg.raw_message, context=None).consume_scope(call_next, msg)


async def publish(bus: BusTelemetry, cmd: Command, send: Any = None) -> Any:
    async def call_next(command: Command) -> Any:
        return await send(command) if send else None
    return await bus(None, context=None).publish_scope(call_next, cmd)


def sample(name: str, service: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"app_name": f"residency-{service}", "broker": "kafka", **labels}) or 0.0


async def test_the_handler_runs_in_a_consumer_span_continuing_the_records_trace_and_its_publish_carries_it_on():
    bus, exporter = telemetry("t-trace", exporting=True)
    sent: list[Command] = []
    in_handler: list[SpanContext] = []

    async def handler(message: Message) -> None:
        in_handler.append(trace.get_current_span().get_span_context())
        await publish(bus, Command(), send=lambda cmd: _append(sent, cmd))

    await consume(bus, consumed(sampled=True), handler)

    spans = {span.name: span for span in exporter.get_finished_spans()}
    process, create, sending = spans[f"{TOPIC} process"], spans[f"{OUT} create"], spans[f"{OUT} publish"]
    assert (process.kind, create.kind, sending.kind) == (SpanKind.CONSUMER, SpanKind.PRODUCER, SpanKind.PRODUCER)
    assert process.context.trace_id == TRACE_ID and process.parent.span_id == PARENT_ID
    assert in_handler == [process.context], "the consumer span is current while the handler runs"
    assert create.parent.span_id == process.context.span_id and sending.parent.span_id == create.context.span_id
    assert process.attributes["messaging.kafka.message.offset"] == 7
    assert process.attributes["messaging.destination_publish.name"] == TOPIC
    # The record sent carries the create span's context (W3C), as the next service reads it.
    carried = trace.get_current_span(TraceContextTextMapPropagator().extract(sent[0].headers)).get_span_context()
    assert (carried.trace_id, carried.span_id, carried.trace_flags.sampled) == (TRACE_ID, create.context.span_id, True)
    assert trace.get_current_span().get_span_context().is_valid is False, "the span is detached after the handler"


async def _append(sent: list[Command], cmd: Command) -> None:
    sent.append(cmd)


async def test_spans_nobody_records_cost_no_sdk_span_yet_their_ids_travel(monkeypatch):
    bus, exporter = telemetry("t-quiet", exporting=False)
    monkeypatch.setattr(bus.tracer, "start_span", _refuse)
    sent: list[Command] = []
    in_handler: list[trace.Span] = []

    async def handler(message: Message) -> None:
        in_handler.append(trace.get_current_span())
        await publish(bus, Command(), send=lambda cmd: _append(sent, cmd))

    await consume(bus, consumed(sampled=False), handler)
    [span] = in_handler
    context = span.get_span_context()
    assert not span.is_recording() and context.trace_id == TRACE_ID and context.span_id not in (0, PARENT_ID)
    carried = trace.get_current_span(TraceContextTextMapPropagator().extract(sent[0].headers)).get_span_context()
    assert carried.trace_id == TRACE_ID and carried.span_id not in (0, PARENT_ID, context.span_id)
    assert not carried.trace_flags.sampled
    # a record without trace context starts a trace of its own, still with IDs
    await consume(bus, consumed(sampled=None), handler)
    assert in_handler[1].get_span_context().is_valid and in_handler[1].get_span_context().trace_id != TRACE_ID
    assert exporter.get_finished_spans() == ()


def _refuse(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("the SDK was asked for a span the sampler drops")


@pytest.mark.parametrize("exporting", [False, True])
@pytest.mark.parametrize("parent", [None, "sampled", "unsampled", "unsampled-random"])
def test_the_samplers_shortcut_decides_as_the_sampler(exporting, parent):
    sampler = RecordWhenExported(exporting=exporting)
    flags = {None: 0, "sampled": 1, "unsampled": 0, "unsampled-random": 2}[parent]
    above = SpanContext(TRACE_ID, PARENT_ID, is_remote=True, trace_flags=TraceFlags(flags)) if parent else \
        trace.INVALID_SPAN_CONTEXT
    context = trace.set_span_in_context(trace.NonRecordingSpan(above)) if parent else None
    decision = sampler.should_sample(context, TRACE_ID, "s").decision
    assert sampler.drops(above) == (decision is Decision.DROP)


async def test_label_children_are_bound_once_and_the_counts_are_right(monkeypatch):
    bus, _ = telemetry("t-counts", exporting=False)
    await consume(bus, consumed())
    await publish(bus, Command())
    lookups = []
    original = MetricWrapperBase.labels
    monkeypatch.setattr(MetricWrapperBase, "labels", lambda self, *a, **k: lookups.append(a) or original(self, *a, **k))
    for _ in range(4):
        await consume(bus, consumed(value=b"0123456789"))
        await publish(bus, Command(batch_bodies=(b"a", b"b")))
    assert lookups == [], "no labels() on the hot path once a topic was seen"
    handler, destination = {"handler": TOPIC}, {"destination": OUT}
    assert sample("residency_bus_received_messages_total", "t-counts", **handler) == 5
    assert sample("residency_bus_received_processed_messages_total", "t-counts", status="acked", **handler) == 5
    assert sample("residency_bus_received_messages_size_bytes_sum", "t-counts", **handler) == 8 + 4 * 10
    assert sample("residency_bus_received_processed_messages_duration_seconds_count", "t-counts", **handler) == 5
    assert sample("residency_bus_received_messages_in_process", "t-counts", **handler) == 0
    assert sample("residency_bus_published_messages_total", "t-counts", status="success", **destination) == 1 + 4 * 2
    assert sample("residency_bus_published_messages_duration_seconds_count", "t-counts", **destination) == 5


async def test_a_failure_is_counted_recorded_on_the_span_and_raised():
    bus, exporter = telemetry("t-fail", exporting=True)

    async def outage(message: Any) -> None:
        raise ConnectionError("store down")

    with pytest.raises(ConnectionError):
        await consume(bus, consumed(), outage)
    with pytest.raises(ConnectionError):
        await publish(bus, Command(), send=outage)
    handler, destination = {"handler": TOPIC}, {"destination": OUT}
    assert sample("residency_bus_received_processed_messages_total", "t-fail", status="error", **handler) == 1
    assert sample("residency_bus_received_processed_messages_total", "t-fail", status="acked", **handler) == 0
    assert sample("residency_bus_received_processed_messages_exceptions_total", "t-fail",
                  exception_type="ConnectionError", **handler) == 1
    assert sample("residency_bus_received_messages_in_process", "t-fail", **handler) == 0
    assert sample("residency_bus_published_messages_total", "t-fail", status="error", **destination) == 1
    assert sample("residency_bus_published_messages_exceptions_total", "t-fail",
                  exception_type="ConnectionError", **destination) == 1
    process = next(s for s in exporter.get_finished_spans() if s.name == f"{TOPIC} process")
    assert process.status.status_code is StatusCode.ERROR
    assert [event.name for event in process.events] == ["exception"]


async def test_a_batch_is_counted_per_record_in_one_span_linked_to_the_records_traces():
    bus, exporter = telemetry("t-batch", exporting=True)
    records = tuple(Record(b"abcd", offset=i, topic=TOPIC,
                           headers=(("traceparent", traceparent(True, TRACE_ID + i).encode()),)) for i in range(3))
    await consume(bus, Message(records, headers={}))
    [span] = exporter.get_finished_spans()
    assert (span.name, span.kind, span.parent) == (f"{TOPIC} process", SpanKind.CONSUMER, None)
    assert [link.context.trace_id for link in span.links] == [TRACE_ID, TRACE_ID + 1, TRACE_ID + 2]
    assert span.attributes["messaging.batch.message_count"] == 3
    assert sample("residency_bus_received_messages_total", "t-batch", handler=TOPIC) == 3
    assert sample("residency_bus_received_messages_size_bytes_sum", "t-batch", handler=TOPIC) == 12
    assert sample("residency_bus_received_processed_messages_total", "t-batch", handler=TOPIC, status="acked") == 3


def test_the_metrics_are_named_labelled_and_described_as_faststreams_were():
    theirs = MetricsContainer(CollectorRegistry(), metrics_prefix="residency_bus", custom_label_names=())
    ours = [value for value in vars(bus_metrics).values() if isinstance(value, MetricWrapperBase)]
    described = {(m._name, m._type, m._documentation, m._labelnames) for m in ours}
    assert described == {(m._name, m._type, m._documentation, m._labelnames)
                         for m in (getattr(theirs, slot) for slot in MetricsContainer.__slots__ if slot[0] != "_")}
    assert bus_metrics.RECEIVED_SIZE._upper_bounds == list(MetricsContainer.DEFAULT_SIZE_BUCKETS)


def test_the_broker_runs_the_request_id_then_the_telemetry_then_the_dead_letter_middleware():
    broker = make_broker("127.0.0.1:9", service="t-order")
    first, second, third = broker.middlewares
    assert first is RequestIdMiddleware and isinstance(second, BusTelemetry)
    assert third.__name__ == "DeadLetterMiddleware"
