"""Composition root of the filter: real adapters by default, fakes from tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from faststream.kafka import KafkaBroker

from contracts import generation_cancellations, generation_requests
from services.filter.adapters.stream_states import InMemoryStreamStates
from services.filter.errors import ClassifierMissing
from services.filter.handlers import FilterPorts
from services.filter.ports import ContentScreen, Detector, PolicySource
from services.filter.settings import FilterSettings
from services.filter.streaming import Windowing
from services.runtime.bus import TopicPublisher, make_broker
from services.runtime.replies import ReplyPublisher
from services.runtime.tracing import make_tracer_provider


def make_detectors(settings: FilterSettings) -> list[Detector]:
    detectors: list[Detector] = []
    for layer in settings.layers:
        if layer == "blocklists":
            from services.filter.detectors.lexical import BlocklistDetector
            detectors.append(BlocklistDetector())
        elif layer == "lexicon":
            from services.filter.detectors.lexical import LexiconDetector
            detectors.append(LexiconDetector())
        elif layer == "pii":
            from services.filter.detectors.pii import PiiDetector
            detectors.append(PiiDetector())
        elif layer == "classifier":
            from services.filter.detectors.classifier import MODEL_PATH, TrainedClassifier, TrainedModel
            path = Path(settings.classifier_path) if settings.classifier_path else MODEL_PATH
            if not path.exists():
                raise ClassifierMissing(f"{path} is missing: run `just filter-train`")
            model = TrainedModel.load(path)
            if not settings.classifier_cascade:
                model = dataclasses.replace(model, cascade=None)
            detectors.append(TrainedClassifier(model))
        elif layer == "guard":
            from services.filter.detectors.guard_model import GuardModelDetector, VllmGuardClient
            assert settings.guard_model_path is not None  # checked by the settings
            detectors.append(GuardModelDetector(VllmGuardClient(settings.guard_model_path),
                                                timeout_s=settings.guard_timeout_s))
    return detectors


def make_screen(settings: FilterSettings) -> ContentScreen:
    from services.filter.screening import LayeredScreen
    return LayeredScreen(make_detectors(settings))


def make_policies(settings: FilterSettings) -> PolicySource:
    from services.filter.adapters.policies import CachedPolicies, MongoPolicyStore, StaticPolicies
    if settings.policy_store == "static":
        return StaticPolicies(settings.default_policy)
    from pymongo import AsyncMongoClient
    client: AsyncMongoClient = AsyncMongoClient(settings.mongo_uri.get_secret_value(), tz_aware=True,
                                                **settings.mongo_client_options(),
                                                serverSelectionTimeoutMS=5000)
    return CachedPolicies(MongoPolicyStore(client, settings.policy_database_name), ttl_s=settings.policy_cache_s,
                          default=settings.default_policy)


def bootstrap(settings: FilterSettings, *, broker: KafkaBroker | None = None, screen: ContentScreen | None = None,
              policies: PolicySource | None = None) -> tuple[KafkaBroker, FilterPorts]:
    broker = broker or make_broker(
        settings.kafka_bootstrap, service="filter",
        tracer_provider=make_tracer_provider("filter", settings.region, console=settings.otel_console),
        security=settings.kafka_security())
    ports = FilterPorts(
        screen=screen or make_screen(settings),
        policies=policies or make_policies(settings),
        generation=TopicPublisher(broker, generation_requests.TOPIC, settings.region,
                                  schema=generation_requests.GenerateCompletion),
        cancellations=TopicPublisher(broker, generation_cancellations.TOPIC, settings.region,
                                     schema=generation_cancellations.CancelGeneration),
        replies=ReplyPublisher(broker, settings.region),
        streams=InMemoryStreamStates(),
        windowing=Windowing(settings.stream_window_chars, settings.stream_overlap_chars,
                            settings.stream_first_window_chars),
    )
    return broker, ports
