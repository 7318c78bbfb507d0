"""Retrieval's subscriber: grounding requests of its region, in one consumer group."""

from __future__ import annotations

from faststream import FastStream

from contracts import gateway_replies, grounding_requests, prompt_submissions
from contracts.grounding_requests import GroundingRequested
from services.retrieval import handlers
from services.retrieval.bootstrap import bootstrap
from services.retrieval.settings import RetrievalSettings
from services.runtime.service_app import ServiceWiring


def create_app(settings: RetrievalSettings, **overrides) -> FastStream:
    broker, ports = bootstrap(settings, **overrides)
    wiring = ServiceWiring("retrieval", settings, broker)

    @wiring.group_subscriber(grounding_requests.TOPIC, "retrieval")
    async def on_grounding_request(request: GroundingRequested) -> None:
        await handlers.ground_request(request, ports)

    return wiring.app(topics=[grounding_requests.TOPIC, prompt_submissions.TOPIC, gateway_replies.TOPIC])
