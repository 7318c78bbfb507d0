"""Composition root of inference: real adapters by default, fakes from tests."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from contracts import generation_events
from services.inference.handlers import InferencePorts
from services.inference.ports import CompletionEngine, GenerationEvents
from services.inference.settings import InferenceSettings
from services.runtime.bus import TopicPublisher, make_broker
from services.runtime.tracing import make_tracer_provider


def make_engine(settings: InferenceSettings) -> CompletionEngine:
    if settings.engine == "echo":
        from services.inference.adapters.echo_engine import EchoEngine

        return EchoEngine(settings.models, delay_per_token_s=settings.echo_delay_per_token_s)
    raise SystemExit(f"unknown engine {settings.engine!r} (RESIDENCY_INFERENCE_ENGINE)")


def bootstrap(settings: InferenceSettings, *, broker: KafkaBroker | None = None,
              engine: CompletionEngine | None = None,
              events: GenerationEvents | None = None) -> tuple[KafkaBroker, InferencePorts]:
    broker = broker or make_broker(
        settings.kafka_bootstrap, service="inference",
        tracer_provider=make_tracer_provider("inference", settings.region, console=settings.otel_console))
    events = events or TopicPublisher(broker, generation_events.TOPIC, settings.region,
                                      schema=generation_events.CompletionGenerated)
    return broker, InferencePorts(engine=engine or make_engine(settings), events=events)
