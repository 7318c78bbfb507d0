"""The filter's subscribers: submitted prompts and generation events, each in a consumer group."""

from __future__ import annotations

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
from services.runtime.service_app import ServiceWiring


def create_app(settings: FilterSettings, **overrides) -> FastStream:
    broker, ports = bootstrap(settings, **overrides)
    wiring = ServiceWiring("filter", settings, broker)

    @wiring.group_subscriber(prompt_submissions.TOPIC, "filter.prompts")
    async def on_prompt(submission: PromptSubmitted) -> None:
        await handlers.screen_prompt(submission, ports)

    @wiring.group_subscriber(generation_events.TOPIC, "filter.completions")
    async def on_generation(event: CompletionGenerated) -> None:
        await handlers.screen_generation(event, ports)

    return wiring.app()
