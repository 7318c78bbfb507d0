"""CPU per consumed and per published message of the bus's middleware stacks, in-process.

``.venv/bin/python -m tests.bench.bus_middleware``. Prints figures side by side; asserts nothing.
No Kafka: FastStream's in-memory ``TestKafkaBroker`` starts the subscribers, a consumed message is
handed to its subscriber as an aiokafka record (with a ``traceparent`` and the envelope headers,
as our publishers write them), and the producer's send and the consumer's commit are replaced by
ones that return at once (the test broker's call recording and logger mock off; FastStream's own
per-message log lines are below the logger's level here), so what is left is FastStream's
own machinery plus the middlewares. Stacks:

- ``floor``: only what stays whatever the telemetry (request ID, dead-letter middleware);
- ``faststream``: FastStream's ``KafkaTelemetryMiddleware`` and ``KafkaPrometheusMiddleware``
  as ``make_broker`` configured them before issue 11;
- ``lean``: ``make_broker`` as it is now.

Each in two tracing modes: ``dropped`` (no exporter, the sampler records nothing: the default)
and ``recorded`` (an exporter receives every span). CPU is ``time.process_time`` over a loop of
messages; the best of a few rounds is printed, with the spans finished per message.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from prometheus_client import REGISTRY

from contracts.base import envelope_headers, topic_name
from contracts.generation_cancellations import TOPIC, CancelGeneration
from services.runtime import bus
from services.runtime.dead_letters import dead_letter_middleware
from services.runtime.tracing import RecordWhenExported

REGION = "eu-west"
SOURCE = topic_name(TOPIC, REGION)
MESSAGE = CancelGeneration(request_id="req_bench-0001", resource_id="contoso-eu", region=REGION,
                           deployment="chat", created_at="2026-01-01T00:00:00Z", reply_to="gw-1",
                           reason="timeout")
STACKS = ("floor", "faststream", "lean")
MODES = ("dropped", "recorded")


class Counting(SpanExporter):
    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += len(spans)
        return SpanExportResult.SUCCESS


def broker_of(stack: str, provider: TracerProvider) -> KafkaBroker:
    if stack == "lean":
        return bus.make_broker("127.0.0.1:9", service="bench", tracer_provider=provider)
    middlewares: list[Any] = [bus.RequestIdMiddleware]
    if stack == "faststream":
        middlewares += [KafkaTelemetryMiddleware(tracer_provider=provider),
                        KafkaPrometheusMiddleware(registry=REGISTRY, app_name="residency-bench",
                                                  metrics_prefix="residency_bus")]
    broker = KafkaBroker("127.0.0.1:9", acks="all", enable_idempotence=True, middlewares=middlewares,
                         logger=logging.getLogger("residency.bench.bus"))
    broker.add_middleware(dead_letter_middleware(broker, service="bench"))
    return broker


def record(offset: int, sampled: bool) -> ConsumerRecord[bytes, bytes]:
    trace_id, span_id = 0x0AF7651916CD43DD8448EB211C80319C + offset, 0xB7AD6B7169203331 + offset
    headers = [(k, v.encode()) for k, v in envelope_headers(MESSAGE).items()]
    headers.append(("traceparent", f"00-{trace_id:032x}-{span_id:016x}-{'01' if sampled else '00'}".encode()))
    value = MESSAGE.model_dump_json().encode()
    return ConsumerRecord(SOURCE, 0, offset, 0, 0, b"contoso-eu", value, None, len(b"contoso-eu"),
                          len(value), headers)


async def cpu_per_item(run: Callable[[int], Awaitable[None]], n: int, rounds: int) -> float:
    """Best of ``rounds`` of CPU µs per item of ``run(n)``."""
    await run(max(n // 10, 1))  # warm the caches (label children, span names, imports)
    best = float("inf")
    for _ in range(rounds):
        began = time.process_time()
        await run(n)
        best = min(best, (time.process_time() - began) / n * 1e6)
    return best


async def measure(stack: str, mode: str, n: int, rounds: int) -> dict[str, float]:
    exporter = Counting()
    provider = TracerProvider(sampler=RecordWhenExported(exporting=mode == "recorded"))
    if mode == "recorded":
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    broker = broker_of(stack, provider)
    received = 0

    async def handle(message: CancelGeneration) -> None:
        nonlocal received
        received += 1

    single = broker.subscriber(SOURCE, group_id="bench", ack_policy=bus.COMMIT_AFTER_HANDLER)
    single(handle)

    batch = broker.subscriber(f"{SOURCE}.batch", group_id="bench-batch", batch=True,
                              ack_policy=bus.COMMIT_AFTER_HANDLER)
    batch(_ignore_batch)
    publisher = bus.TopicPublisher(broker, TOPIC, REGION)
    sampled = mode == "recorded"
    records = [record(i, sampled) for i in range(n)]
    figures: dict[str, float] = {}
    async with TestKafkaBroker(broker):
        broker.config.broker_config.producer.publish = _done  # type: ignore[attr-defined]
        broker.config.logger.logger.logger = logging.getLogger("residency.bench.bus")  # not the test broker's mock
        for subscriber in broker.subscribers:  # the test broker's mocks would record every call
            if subscriber.consumer is not None:  # type: ignore[attr-defined]
                subscriber.consumer.commit = _done  # type: ignore[attr-defined]
            for call in subscriber.calls:
                call.handler.reset_test()

        async def consume(count: int) -> None:
            for i in range(count):
                await single.consume(records[i])

        async def consume_batches(count: int) -> None:
            for i in range(0, count, 16):
                await batch.consume(tuple(records[i:i + 16]))

        async def publish(count: int) -> None:
            # as from a handler: in the consumed message's span
            with provider.get_tracer("bench").start_as_current_span("handler"):
                for _ in range(count):
                    await publisher.publish(MESSAGE)

        for name, run in (("consume", consume), ("consume batch/16", consume_batches), ("publish", publish)):
            before = exporter.spans
            figures[name] = await cpu_per_item(run, n, rounds)
            figures[f"{name} spans"] = (exporter.spans - before) / (n * (rounds + 0.1))
    assert received > 0, "the subscriber was never called"
    return figures


async def _ignore_batch(messages: list[CancelGeneration]) -> None:
    return None


async def _done(*_: Any) -> None:
    return None


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    trace.set_tracer_provider(TracerProvider(sampler=RecordWhenExported()))  # batches' global tracer
    results = {(stack, mode): await measure(stack, mode, args.messages, args.rounds)
               for mode in MODES for stack in STACKS}
    print(f"CPU µs per message, best of {args.rounds} x {args.messages} "
          f"(spans finished per message in brackets; floor = no telemetry middleware)")
    print(f"{'':30}" + "".join(f"{s:>20}" for s in STACKS))
    for mode in MODES:
        for what in ("consume", "consume batch/16", "publish"):
            cells = [f"{results[stack, mode][what]:8.1f} [{results[stack, mode][what + ' spans']:.1f}]"
                     for stack in STACKS]
            print(f"{what + ', ' + mode:30}" + "".join(f"{c:>20}" for c in cells))
    for mode in MODES:
        for what in ("consume", "publish"):
            floor = results["floor", mode][what]
            old, new = (results[s, mode][what] - floor for s in ("faststream", "lean"))
            print(f"middleware cost over floor, {what}, {mode}: faststream {old:.1f} µs, lean {new:.1f} µs")


if __name__ == "__main__":
    asyncio.run(main())
