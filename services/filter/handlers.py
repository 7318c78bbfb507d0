"""What the filter does with a submitted prompt and with generated text."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from contracts.common import ApiError
from contracts.gateway_replies import CompletionReady, PromptAnnotation, PromptScreened, ReplyChoice, RequestFailed
from contracts.generation_cancellations import CancelGeneration
from contracts.generation_events import CompletionGenerated
from contracts.generation_requests import GenerateCompletion
from contracts.prompt_submissions import PromptSubmitted
from services.filter.ports import (
    Cancellations,
    ContentScreen,
    GenerationRequests,
    Replies,
    ScreenVerdict,
    StoppedChoices,
)

log = logging.getLogger("residency.filter.handlers")


@dataclass(frozen=True)
class FilterPorts:
    screen: ContentScreen
    generation: GenerationRequests
    cancellations: Cancellations
    replies: Replies
    stopped: StoppedChoices


def blocked_prompt_error(verdict: ScreenVerdict) -> ApiError:
    """Azure's 400 for a filtered prompt."""
    return ApiError(
        status=400, type=None, code="content_filter", param="prompt",
        message=("The response was filtered due to the prompt triggering Azure OpenAI's content "
                 "management policy. Please modify your prompt and retry."),
        innererror={"code": "ResponsibleAIPolicyViolation", "content_filter_result": verdict.results},
    )


async def screen_prompt(submission: PromptSubmitted, ports: FilterPorts) -> None:
    """Stop a prompt that violates the policy; otherwise annotate it and send it to inference."""
    verdict = await ports.screen.screen_prompt(submission)
    if verdict.blocked:
        log.info("prompt of request %s blocked", submission.request_id)
        await ports.replies.publish(RequestFailed(**submission.envelope(), error=blocked_prompt_error(verdict)))
        return
    await ports.replies.publish(PromptScreened(
        **submission.envelope(),
        prompt_filter_results=[PromptAnnotation(prompt_index=0, content_filter_results=verdict.results)]))
    await ports.generation.publish(GenerateCompletion(
        **submission.envelope(), model=submission.model, messages=submission.messages,
        sampling=submission.sampling, stream=submission.stream, adapter=submission.adapter,
        raw_prompt=submission.raw_prompt))


async def screen_generation(event: CompletionGenerated, ports: FilterPorts) -> None:
    """Screen each choice's text; a filtered choice is cut and, mid-stream, its generation stopped."""
    if event.error is not None:
        await ports.replies.publish(RequestFailed(**event.envelope(), error=event.error))
        return
    choices, stop_generation = [], False
    for choice in event.choices:
        if ports.stopped.is_stopped(event.request_id, choice.index):
            continue  # generated before the cancellation reached the engine: never shown
        verdict = await ports.screen.screen_completion(event.resource_id, event.deployment, choice.text)
        if verdict.blocked:
            choices.append(ReplyChoice(index=choice.index, text="", finish_reason="content_filter",
                                       content_filter_results=verdict.results))
            ports.stopped.stop(event.request_id, choice.index)
            stop_generation = stop_generation or not event.final
        else:
            choices.append(ReplyChoice(index=choice.index, text=choice.text, finish_reason=choice.finish_reason,
                                       content_filter_results=verdict.results, logprobs=choice.logprobs))
    if event.final:
        ports.stopped.forget(event.request_id)
    await ports.replies.publish(CompletionReady(
        **event.envelope(), sequence=event.sequence, final=event.final, model=event.model,
        choices=choices, usage=event.usage))
    if stop_generation:
        await ports.cancellations.publish(CancelGeneration(**event.envelope(), reason="content_filter"))
