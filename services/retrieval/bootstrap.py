"""Composition root of retrieval: real adapters by default, fakes from tests."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from contracts import prompt_submissions
from services.retrieval.adapters.mongo_documents import MongoCustomerDocuments
from services.retrieval.handlers import RetrievalPorts
from services.retrieval.ports import CustomerDocuments
from services.retrieval.settings import RetrievalSettings
from services.runtime.bus import TopicPublisher, make_broker
from services.runtime.replies import ReplyPublisher
from services.runtime.tracing import make_tracer_provider


def bootstrap(settings: RetrievalSettings, *, broker: KafkaBroker | None = None,
              documents: CustomerDocuments | None = None) -> tuple[KafkaBroker, RetrievalPorts]:
    broker = broker or make_broker(
        settings.kafka_bootstrap, service="retrieval",
        tracer_provider=make_tracer_provider("retrieval", settings.region, console=settings.otel_console))
    ports = RetrievalPorts(
        documents=documents or MongoCustomerDocuments(connect_timeout_ms=settings.connect_timeout_ms),
        submissions=TopicPublisher(broker, prompt_submissions.TOPIC, settings.region,
                                   schema=prompt_submissions.PromptSubmitted),
        replies=ReplyPublisher(broker, settings.region),
        max_candidates=settings.max_candidates,
    )
    return broker, ports
