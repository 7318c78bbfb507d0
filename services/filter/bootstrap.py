"""Composition root of the filter: real adapters by default, fakes from tests."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from contracts import generation_cancellations, generation_requests
from services.filter.adapters.stopped_choices import InMemoryStoppedChoices
from services.filter.handlers import FilterPorts
from services.filter.ports import ContentScreen
from services.filter.settings import FilterSettings
from services.runtime.bus import TopicPublisher, make_broker
from services.runtime.replies import ReplyPublisher
from services.runtime.tracing import make_tracer_provider


def make_screen(settings: FilterSettings) -> ContentScreen:
    if settings.screen == "pass-through":
        from services.filter.adapters.pass_through import PassThroughScreen

        return PassThroughScreen()
    raise SystemExit(f"unknown screen {settings.screen!r} (RESIDENCY_FILTER_SCREEN)")


def bootstrap(settings: FilterSettings, *, broker: KafkaBroker | None = None,
              screen: ContentScreen | None = None) -> tuple[KafkaBroker, FilterPorts]:
    broker = broker or make_broker(
        settings.kafka_bootstrap, service="filter",
        tracer_provider=make_tracer_provider("filter", settings.region, console=settings.otel_console))
    ports = FilterPorts(
        screen=screen or make_screen(settings),
        generation=TopicPublisher(broker, generation_requests.TOPIC, settings.region,
                                  schema=generation_requests.GenerateCompletion),
        cancellations=TopicPublisher(broker, generation_cancellations.TOPIC, settings.region,
                                     schema=generation_cancellations.CancelGeneration),
        replies=ReplyPublisher(broker, settings.region),
        stopped=InMemoryStoppedChoices(),
    )
    return broker, ports
