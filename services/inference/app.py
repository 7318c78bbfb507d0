"""Inference's subscribers: generation requests (consumer group) and cancellations (every replica)."""

from __future__ import annotations

from faststream import FastStream
from faststream.specification import AsyncAPI

from contracts import generation_cancellations, generation_events, generation_requests
from contracts.base import topic_name
from contracts.generation_cancellations import CancelGeneration
from contracts.generation_requests import GenerateCompletion
from services.inference import handlers
from services.inference.bootstrap import bootstrap
from services.inference.settings import InferenceSettings
from services.runtime.bus import COMMIT_AFTER_HANDLER
from services.runtime.readiness import ready_hook
from services.runtime.startup import require_topics


def create_app(settings: InferenceSettings, **overrides) -> FastStream:
    broker, ports = bootstrap(settings, **overrides)
    requests_topic = topic_name(generation_requests.TOPIC, settings.region)
    cancel_topic = topic_name(generation_cancellations.TOPIC, settings.region)

    generation_request_subscriber = broker.subscriber(
        requests_topic, group_id=f"{settings.region}.inference",
        auto_offset_reset="earliest", ack_policy=COMMIT_AFTER_HANDLER)

    @generation_request_subscriber
    async def on_generation_request(cmd: GenerateCompletion) -> None:
        await handlers.generate_completion(cmd, ports)

    # Without a group: a cancellation must reach whichever replica runs the request.
    @broker.subscriber(cancel_topic, auto_offset_reset="latest")
    async def on_cancellation(cmd: CancelGeneration) -> None:
        await handlers.cancel_generation(cmd, ports)

    async def check_topics() -> None:
        await require_topics(settings.kafka_bootstrap, [
            requests_topic, cancel_topic, topic_name(generation_events.TOPIC, settings.region)])

    ready = ready_hook("inference", settings.ready_file, [generation_request_subscriber])
    return FastStream(broker, on_startup=[check_topics], after_startup=[ready],
                      specification=AsyncAPI(broker, title="Residency inference", version="1"))
