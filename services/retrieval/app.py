"""Retrieval's subscriber: grounding requests of its region, in one consumer group.

Requests go through an in-flight window: up to ``max_in_flight`` are read from customers' stores
at once, so one slow or silent store holds its own request (until the deadline), not the region's
"on your data"; offsets are committed only up to the first unfinished request.
"""

from __future__ import annotations

from faststream import FastStream
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy

from contracts import gateway_replies, grounding_requests_v2, prompt_submissions
from contracts.grounding_requests_v2 import GroundingRequested
from services.retrieval import handlers
from services.retrieval.bootstrap import bootstrap
from services.retrieval.settings import RetrievalSettings
from services.runtime.inflight import InFlightWindow
from services.runtime.service_app import ServiceWiring


def create_app(settings: RetrievalSettings, **overrides) -> FastStream:
    broker, ports = bootstrap(settings, **overrides)
    wiring = ServiceWiring("retrieval", settings, broker)
    window = InFlightWindow(settings.max_in_flight)

    @wiring.group_subscriber(grounding_requests_v2.TOPIC, "retrieval", ack_policy=AckPolicy.MANUAL)
    async def on_grounding_request(request: GroundingRequested, message: KafkaMessage) -> None:
        await window.submit(message, handlers.ground_request(request, ports), key=request.request_id)

    async def close_clients() -> None:
        close = getattr(ports.documents, "close", None)
        if close is not None:
            await close()

    return wiring.app(topics=[grounding_requests_v2.TOPIC, prompt_submissions.TOPIC, gateway_replies.TOPIC],
                      after_shutdown=[close_clients])
