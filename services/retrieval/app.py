"""Retrieval's subscriber: grounding requests of its region, in one consumer group."""

from __future__ import annotations

from faststream import FastStream
from faststream.specification import AsyncAPI

from contracts import gateway_replies, grounding_requests, prompt_submissions
from contracts.base import topic_name
from contracts.grounding_requests import GroundingRequested
from services.retrieval import handlers
from services.retrieval.bootstrap import bootstrap
from services.retrieval.settings import RetrievalSettings
from services.runtime.bus import COMMIT_AFTER_HANDLER
from services.runtime.readiness import ready_hook
from services.runtime.startup import require_topics


def create_app(settings: RetrievalSettings, **overrides) -> FastStream:
    broker, ports = bootstrap(settings, **overrides)
    requests_topic = topic_name(grounding_requests.TOPIC, settings.region)

    grounding_request_subscriber = broker.subscriber(
        requests_topic, group_id=f"{settings.region}.retrieval",
        auto_offset_reset="earliest", ack_policy=COMMIT_AFTER_HANDLER)

    @grounding_request_subscriber
    async def on_grounding_request(request: GroundingRequested) -> None:
        await handlers.ground_request(request, ports)

    async def check_topics() -> None:
        await require_topics(settings.kafka_bootstrap, [topic_name(t, settings.region) for t in (
            grounding_requests.TOPIC, prompt_submissions.TOPIC, gateway_replies.TOPIC)])

    ready = ready_hook("retrieval", settings.ready_file, [grounding_request_subscriber])
    return FastStream(broker, on_startup=[check_topics], after_startup=[ready],
                      specification=AsyncAPI(broker, title="Residency retrieval", version="1"))
