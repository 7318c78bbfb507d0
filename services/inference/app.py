"""Inference's subscribers: generation and embedding requests (groups); cancellations, queued fine-tuning
jobs (to start the adapter engine) and model deletions (every replica).

Generation requests go through an in-flight window: up to ``max_in_flight`` run in the engine at
once (vLLM batches them), the consumer waits when the window is full, and offsets are committed
only up to the first unfinished request; an outage sends the consumer back to the request, any
other failure dead-letters it (services/runtime/inflight.py).
"""

from __future__ import annotations

from typing import Any

from faststream import FastStream
from faststream.middlewares import AckPolicy

from contracts import (
    embedding_requests,
    generation_cancellations,
    generation_requests,
    tuning_jobs,
    tuning_model_deletions,
)
from contracts.embedding_requests import EmbedTexts
from contracts.generation_cancellations import CancelGeneration
from contracts.generation_requests import GenerateCompletion
from contracts.tuning_jobs import TrainFineTuningJob
from contracts.tuning_model_deletions import DeleteFineTunedModel
from services.inference import handlers
from services.inference.bootstrap import bootstrap
from services.inference.settings import InferenceSettings
from services.runtime.bus import RawMessage
from services.runtime.dead_letters import dead_letter
from services.runtime.inflight import InFlightWindow
from services.runtime.service_app import ServiceWiring


def create_app(settings: InferenceSettings, **overrides) -> FastStream:
    inference = bootstrap(settings, **overrides)
    ports = inference.ports
    wiring = ServiceWiring("inference", settings, inference.broker)

    async def dead_letter_request(record: Any, error: BaseException) -> None:
        await dead_letter(inference.broker, record, service="inference", error=error)

    window = InFlightWindow(settings.max_in_flight, dead_letter=dead_letter_request)

    @wiring.group_subscriber(generation_requests.TOPIC, "inference", ack_policy=AckPolicy.MANUAL)
    async def on_generation_request(cmd: GenerateCompletion, message: RawMessage) -> None:
        await window.submit(message, handlers.generate_completion(cmd, ports), key=cmd.request_id)

    @wiring.group_subscriber(embedding_requests.TOPIC, "inference.embeddings", quiet=True)
    async def on_embedding_request(request: EmbedTexts) -> None:
        await handlers.embed_texts(request, ports)

    # A cancellation must reach whichever replica runs the request.
    @wiring.fanout_subscriber(generation_cancellations.TOPIC, quiet=True)
    async def on_cancellation(cmd: CancelGeneration) -> None:
        await handlers.cancel_generation(cmd, ports)

    # A deleted fine-tuned model must leave every replica's memory (rare: a quiet subscriber, whose
    # idle fetches cost the service and the broker less).
    @wiring.fanout_subscriber(tuning_model_deletions.TOPIC, quiet=True)
    async def on_model_deleted(cmd: DeleteFineTunedModel) -> None:
        await handlers.unload_adapter(cmd, inference.engines)

    # A queued fine-tuning job: its model will be asked for once trained, so every replica starts
    # its adapter engine now (quiet: a few jobs a day).
    @wiring.fanout_subscriber(tuning_jobs.TOPIC, quiet=True)
    async def on_job_queued(job: TrainFineTuningJob) -> None:
        await handlers.warm_adapter_engine(job, inference.engines)

    async def start_engines() -> None:
        started = []
        try:
            for engine in inference.engines:
                await engine.start()
                started.append(engine)
        except BaseException:
            for engine in started:  # an engine left running would keep the process alive
                await engine.close()
            raise

    async def drain() -> None:  # SIGTERM: the broker still runs, so finished requests publish and commit
        window.close()
        await window.drain(settings.shutdown_grace_s)

    async def stop_engines() -> None:
        for engine in inference.engines:
            await engine.close()

    return wiring.app(on_startup=[start_engines], on_shutdown=[drain], after_shutdown=[stop_engines])
