"""CPU per consumed and per published message of the bus's middleware stacks, in-process.

``.venv/bin/python -m tests.bench.bus_middleware``. Prints figures side by side; asserts nothing.
No Kafka: FastStream's in-memory ``TestKafkaBroker`` starts the subscribers, a consumed message is
handed to its subscriber as an aiokafka record (with the headers our publishers write: FastStream's
correlation ID, the envelope's, a ``traceparent``), and the producer's send and the consumer's
commit are replaced by ones that return at once (the test broker's call recording and logger mock
off; FastStream's own per-message log lines are below the logger's level here), so what is left is
FastStream's own machinery plus the middlewares. Stacks:

- ``floor``: only what stays whatever the telemetry (request ID, dead-letter middleware);
- ``faststream``: FastStream's ``KafkaTelemetryMiddleware`` and ``KafkaPrometheusMiddleware``
  as ``make_broker`` configured them before issue 11;
- ``lean``: ``make_broker`` as it is now.

Each in two tracing modes: ``dropped`` (no exporter, the sampler records nothing: the default)
and ``recorded`` (an exporter receives every span). CPU is ``time.process_time`` over a loop of
messages, the stacks' rounds interleaved; the best round is printed, with the spans finished per
message.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
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
    # as FastStream's producer writes a record: its content type and correlation ID, then ours
    headers = [("content-type", b"application/json"), ("correlation_id", f"corr-{offset}".encode())]
    headers += [(k, v.encode()) for k, v in envelope_headers(MESSAGE).items()]
    headers.append(("traceparent", f"00-{trace_id:032x}-{span_id:016x}-{'01' if sampled else '00'}".encode()))
    value = MESSAGE.model_dump_json().encode()
    return ConsumerRecord(SOURCE, 0, offset, 0, 0, b"contoso-eu", value, None, len(b"contoso-eu"),
                          len(value), headers)


async def cpu_per_item(run: Callable[[int], Awaitable[None]], n: int) -> float:
    """CPU µs per item of ``run(n)``."""
    began = time.process_time()
    await run(n)
    return (time.process_time() - began) / n * 1e6


class Rig:
    """One stack in one tracing mode, started on the in-memory broker: its runs by name."""

    def __init__(self, stack: str, mode: str, n: int) -> None:
        self.exporter = Counting()
        self.provider = TracerProvider(sampler=RecordWhenExported(exporting=mode == "recorded"))
        if mode == "recorded":
            self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.broker = broker_of(stack, self.provider)
        self.single = self.broker.subscriber(SOURCE, group_id="bench", ack_policy=bus.COMMIT_AFTER_HANDLER)
        self.single(_ignore)
        self.batch = self.broker.subscriber(f"{SOURCE}.batch", group_id="bench-batch", batch=True,
                                            ack_policy=bus.COMMIT_AFTER_HANDLER)
        self.batch(_ignore_batch)
        self.publisher = bus.TopicPublisher(self.broker, TOPIC, REGION)
        self.records = [record(i, sampled=mode == "recorded") for i in range(n)]
        self.runs = {"consume": self.consume, "consume batch/16": self.consume_batches, "publish": self.publish}

    async def start(self, stack: AsyncExitStack) -> None:
        broker = self.broker
        await stack.enter_async_context(TestKafkaBroker(broker))
        broker.config.broker_config.producer.publish = _done  # type: ignore[attr-defined]
        broker.config.logger.logger.logger = logging.getLogger("residency.bench.bus")  # not the test broker's mock
        for subscriber in broker.subscribers:  # the test broker's mocks would record every call
            if subscriber.consumer is not None:  # type: ignore[attr-defined]
                subscriber.consumer.commit = _done  # type: ignore[attr-defined]
            for call in subscriber.calls:
                call.handler.reset_test()

    async def consume(self, count: int) -> None:
        for i in range(count):
            await self.single.consume(self.records[i])

    async def consume_batches(self, count: int) -> None:
        for i in range(0, count, 16):
            await self.batch.consume(tuple(self.records[i:i + 16]))

    async def publish(self, count: int) -> None:
        with self.provider.get_tracer("bench").start_as_current_span("handler"):  # as from a handler
            for _ in range(count):
                await self.publisher.publish(MESSAGE)


async def measure(mode: str, n: int, rounds: int) -> dict[tuple[str, str], float]:
    """Best CPU µs per message of each stack and run, their rounds interleaved (so a burst of other
    work on the machine hits every stack alike), and the spans each finished per message."""
    figures: dict[tuple[str, str], float] = {}
    async with AsyncExitStack() as running:
        rigs = {stack: Rig(stack, mode, n) for stack in STACKS}
        for rig in rigs.values():
            await rig.start(running)
            for run in rig.runs.values():
                await run(max(n // 10, 16))  # warm the caches (label children, span names, imports)
        for _ in range(rounds):
            for stack, rig in rigs.items():
                for name, run in rig.runs.items():
                    before = rig.exporter.spans
                    cpu = await cpu_per_item(run, n)
                    figures[stack, name] = min(cpu, figures.get((stack, name), float("inf")))
                    figures[stack, f"{name} spans"] = (rig.exporter.spans - before) / n
    return figures


async def _ignore(message: CancelGeneration) -> None:
    return None


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
    results = {mode: await measure(mode, args.messages, args.rounds) for mode in MODES}
    print(f"CPU µs per message, best of {args.rounds} x {args.messages} "
          f"(spans finished per message in brackets; floor = no telemetry middleware)")
    print(f"{'':30}" + "".join(f"{s:>20}" for s in STACKS))
    for mode in MODES:
        for what in ("consume", "consume batch/16", "publish"):
            cells = [f"{results[mode][stack, what]:8.1f} [{results[mode][stack, what + ' spans']:.1f}]"
                     for stack in STACKS]
            print(f"{what + ', ' + mode:30}" + "".join(f"{c:>20}" for c in cells))
    for mode in MODES:
        for what in ("consume", "publish"):
            floor = results[mode]["floor", what]
            old, new = (results[mode][s, what] - floor for s in ("faststream", "lean"))
            print(f"middleware cost over floor, {what}, {mode}: faststream {old:.1f} µs, lean {new:.1f} µs")


if __name__ == "__main__":
    asyncio.run(main())
