"""The filter's subscribers: submitted prompts and generation events, each in a consumer group.

Both take what one fetch returns as a batch (services.runtime.batches): each message screened in
order by the plain handler, their publishes acknowledged together, one offset commit after them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faststream import FastStream

from contracts import (
    generation_events,
    prompt_submissions,
)
from contracts.generation_events import CompletionGenerated
from contracts.prompt_submissions import PromptSubmitted
from services.filter import handlers
from services.filter.bootstrap import bootstrap
from services.filter.settings import FilterSettings
from services.runtime.batches import handle_batch
from services.runtime.bus import RawMessage
from services.runtime.service_app import ServiceWiring

BATCH_TIMEOUT_MS = 20  # a fetch returns as soon as records are there; this bounds an idle wait


def create_app(settings: FilterSettings, **overrides) -> FastStream:
    broker, ports = bootstrap(settings, **overrides)
    wiring = ServiceWiring("filter", settings, broker)
    batches: dict[str, Any] = {"batch": True, "max_records": settings.batch_max_records,
                               "batch_timeout_ms": BATCH_TIMEOUT_MS}

    @wiring.group_subscriber(prompt_submissions.TOPIC, "filter.prompts", **batches,
                             description="Batches of PromptSubmitted (contracts/prompt_submissions.py); "
                             "each message is validated on its own, so a malformed one is dead-lettered alone.")
    async def on_prompts(batch: RawMessage) -> None:
        async def screen(submission: PromptSubmitted) -> None:
            await handlers.screen_prompt(submission, ports)

        await handle_batch(batch.raw_message, PromptSubmitted, screen, broker=broker, service="filter")

    @wiring.group_subscriber(generation_events.TOPIC, "filter.completions", **batches,
                             description="Batches of CompletionGenerated (contracts/generation_events.py); "
                             "each message is validated on its own, so a malformed one is dead-lettered alone.")
    async def on_generations(batch: RawMessage) -> None:
        answered_before: set[str] = set()  # stays answered if the batch comes again

        async def screen(event: CompletionGenerated) -> None:
            if ports.streams.settled(event.request_id):
                answered_before.add(event.request_id)
            await handlers.screen_generation(event, ports)

        def forget_streams(events: list[CompletionGenerated]) -> None:
            for request_id in {event.request_id for event in events} - answered_before:
                ports.streams.forget(request_id)

        await handle_batch(batch.raw_message, CompletionGenerated, screen, broker=broker, service="filter",
                           on_outage=forget_streams)

    async def load_models() -> None:  # before consuming: the first prompt the cascade reads would wait
        warm = getattr(ports.screen, "warm", None)
        if warm is not None:
            await asyncio.to_thread(warm)

    return wiring.app(on_startup=[load_models])
