"""The filter's subscribers: submitted prompts and generation events, each in a consumer group."""

from __future__ import annotations

from faststream import FastStream
from faststream.specification import AsyncAPI

from contracts import gateway_replies, generation_cancellations, generation_events, generation_requests, prompt_submissions
from contracts.base import topic_name
from contracts.generation_events import CompletionGenerated
from contracts.prompt_submissions import PromptSubmitted
from services.filter import handlers
from services.filter.bootstrap import bootstrap
from services.filter.settings import FilterSettings
from services.runtime.bus import COMMIT_AFTER_HANDLER
from services.runtime.readiness import ready_hook
from services.runtime.startup import require_topics


def create_app(settings: FilterSettings, **overrides) -> FastStream:
    broker, ports = bootstrap(settings, **overrides)
    prompts_topic = topic_name(prompt_submissions.TOPIC, settings.region)
    events_topic = topic_name(generation_events.TOPIC, settings.region)

    prompt_subscriber = broker.subscriber(
        prompts_topic, group_id=f"{settings.region}.filter.prompts",
        auto_offset_reset="earliest", ack_policy=COMMIT_AFTER_HANDLER)

    @prompt_subscriber
    async def on_prompt(submission: PromptSubmitted) -> None:
        await handlers.screen_prompt(submission, ports)

    generation_subscriber = broker.subscriber(
        events_topic, group_id=f"{settings.region}.filter.completions",
        auto_offset_reset="earliest", ack_policy=COMMIT_AFTER_HANDLER)

    @generation_subscriber
    async def on_generation(event: CompletionGenerated) -> None:
        await handlers.screen_generation(event, ports)

    async def check_topics() -> None:
        await require_topics(settings.kafka_bootstrap, [topic_name(t, settings.region) for t in (
            prompt_submissions.TOPIC, generation_events.TOPIC, generation_requests.TOPIC,
            generation_cancellations.TOPIC, gateway_replies.TOPIC)])

    ready = ready_hook("filter", settings.ready_file, [prompt_subscriber, generation_subscriber])
    return FastStream(broker, on_startup=[check_topics], after_startup=[ready],
                      specification=AsyncAPI(broker, title="Residency filter", version="1"))
