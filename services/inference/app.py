"""Inference's subscribers: generation requests (consumer group) and cancellations (every replica)."""

from __future__ import annotations

from faststream import FastStream

from contracts import generation_cancellations, generation_events, generation_requests
from contracts.generation_cancellations import CancelGeneration
from contracts.generation_requests import GenerateCompletion
from services.inference import handlers
from services.inference.bootstrap import bootstrap
from services.inference.settings import InferenceSettings
from services.runtime.service_app import ServiceWiring


def create_app(settings: InferenceSettings, **overrides) -> FastStream:
    broker, ports = bootstrap(settings, **overrides)
    wiring = ServiceWiring("inference", settings, broker)

    @wiring.group_subscriber(generation_requests.TOPIC, "inference")
    async def on_generation_request(cmd: GenerateCompletion) -> None:
        await handlers.generate_completion(cmd, ports)

    # A cancellation must reach whichever replica runs the request.
    @wiring.fanout_subscriber(generation_cancellations.TOPIC)
    async def on_cancellation(cmd: CancelGeneration) -> None:
        await handlers.cancel_generation(cmd, ports)

    return wiring.app(topics=[generation_requests.TOPIC, generation_cancellations.TOPIC, generation_events.TOPIC])
