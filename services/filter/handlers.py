"""What the filter does with a submitted prompt and with generated text."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from contracts.common import ApiError, ChatMessage, FilterResults, Usage
from contracts.gateway_replies import (
    WITHHELD_DOCUMENT,
    CompletionReady,
    PromptAnnotation,
    PromptScreened,
    ReplyChoice,
    RequestFailed,
)
from contracts.generation_cancellations import CancelGeneration
from contracts.generation_events import CompletionGenerated
from contracts.generation_requests import GenerateCompletion
from contracts.prompt_submissions import PromptSubmitted
from services.filter.policy import EffectivePolicy
from services.filter.ports import (
    Cancellations,
    ContentScreen,
    GenerationRequests,
    PolicySource,
    Replies,
    ScreenedText,
    ScreenVerdict,
    StreamStates,
    TextKind,
)
from services.filter.results import merge_results
from services.filter.streaming import RequestStream, Windowing, asynchronous, buffered, with_tool_calls

log = logging.getLogger("residency.filter.handlers")

# A caller writes its system and developer messages as freely as its user messages: an attack
# placed there is screened too (the classifier holds them to a stricter threshold, see
# detectors/classifier.py).
KIND_OF_ROLE: dict[str, TextKind] = {"user": "prompt", "system": "instruction", "developer": "instruction",
                                     "tool": "document"}


@dataclass(frozen=True)
class FilterPorts:
    screen: ContentScreen
    policies: PolicySource
    generation: GenerationRequests
    cancellations: Cancellations
    replies: Replies
    streams: StreamStates
    windowing: Windowing = field(default_factory=Windowing)


def blocked_prompt_error(verdict: ScreenVerdict) -> ApiError:
    """Azure's 400 for a filtered prompt."""
    return ApiError(
        status=400, type=None, code="content_filter", param="prompt",
        message=("The response was filtered due to the prompt triggering Azure OpenAI's content "
                 "management policy. Please modify your prompt and retry."),
        innererror={"code": "ResponsibleAIPolicyViolation", "content_filter_result": verdict.results},
    )


def _filtered_names(verdict: ScreenVerdict) -> str:
    return ",".join(sorted(name for name, value in verdict.results.items() if value.get("filtered"))) or "error"


def tool_output_text(content: str) -> str:
    """A tool result as the screen reads it: JSON (what tools mostly return) as ``key: value``
    lines, every string kept. The indirect-attack classifier learned prose, and reads JSON
    punctuation itself as an attack (a weather report as JSON scored 0.7-0.9, the same as lines
    0.0); an instruction hidden in a value is still read as one. With PII redaction, the masked
    lines are what the model gets."""
    try:
        decoded = json.loads(content)
    except ValueError:
        return content
    if not isinstance(decoded, dict | list):
        return content
    lines: list[str] = []
    pending: list[tuple[str, object]] = [("", decoded)]
    while pending:
        path, value = pending.pop(0)
        if isinstance(value, dict):
            pending[:0] = [(f"{path}.{key}" if path else str(key), child) for key, child in value.items()]
        elif isinstance(value, list):
            pending[:0] = [(path, child) for child in value]
        else:
            lines.append(f"{path}: {value}" if path else str(value))
    return "\n".join(lines)


def prompt_texts(submission: PromptSubmitted) -> list[ScreenedText]:
    """Messages in order, by role (``KIND_OF_ROLE``). The system message retrieval wrote
    (``grounding_message``) is context, not the caller's instruction, and its documents are left
    out here: they are screened on their own, as documents (``_screen_documents``), so an injected
    document is dropped rather than failing the request."""
    texts = []
    for position, message in enumerate(submission.messages):
        content, kind = message.content, KIND_OF_ROLE.get(message.role, "context")
        if message.role == "tool":
            content = tool_output_text(content)
        if position == submission.grounding_message:  # written by retrieval, not by the caller
            kind = "context"
            for document in submission.documents:
                content = content.replace(document, "")
        texts.append(ScreenedText(content, kind))
    # Appended after the messages (redaction maps texts to messages by position): the arguments of
    # earlier function calls are the model's words, the functions' descriptions the caller's.
    texts += [ScreenedText(call.arguments, "context") for m in submission.messages for call in m.tool_calls]
    texts += [ScreenedText(tool.description, "instruction") for tool in submission.tools if tool.description]
    return texts


async def _screen_documents(submission: PromptSubmitted, policy: EffectivePolicy,
                            ports: FilterPorts) -> tuple[list[int], list[FilterResults]]:
    """Each retrieved document on its own: one the policy filters (injected instructions, say) is
    dropped from the prompt, not the whole request; its results annotate the prompt."""
    dropped, results = [], []
    for position, document in enumerate(submission.documents):
        verdict = await ports.screen.screen_prompt([ScreenedText(document, "document")], policy)
        results.append(verdict.results)
        if verdict.blocked:
            dropped.append(position)
    if dropped:
        log.info("request %s: %d retrieved documents dropped (%s)", submission.request_id, len(dropped),
                 ",".join(map(str, dropped)))
    return dropped, results


def _without_documents(messages: list[ChatMessage], documents: list[str], dropped: list[int]) -> list[ChatMessage]:
    """Grounding system messages with each dropped document's text replaced by a notice."""
    def neutralised(text: str) -> str:
        for position in dropped:
            text = text.replace(documents[position], WITHHELD_DOCUMENT)
        return text

    return [m.model_copy(update={"content": neutralised(m.content)}) if m.role == "system" else m for m in messages]


async def screen_prompt(submission: PromptSubmitted, ports: FilterPorts) -> None:
    """Stop a prompt that violates the policy; otherwise annotate it and send it to inference."""
    policy = await ports.policies.policy_for(submission.resource_id, submission.deployment)
    verdict = await ports.screen.screen_prompt(prompt_texts(submission), policy)
    if verdict.blocked:
        log.info("prompt of request %s blocked (%s)", submission.request_id, _filtered_names(verdict))
        await ports.replies.publish(RequestFailed(**submission.envelope(), error=blocked_prompt_error(verdict)))
        return
    messages = submission.messages
    if verdict.redacted is not None:
        messages = [m.model_copy(update={"content": text}) for m, text in zip(messages, verdict.redacted, strict=False)]
    dropped, document_results = await _screen_documents(submission, policy, ports)
    if dropped:
        messages = _without_documents(messages, submission.documents, dropped)
    results = merge_results([verdict.results, *document_results])
    await ports.replies.publish(PromptScreened(
        **submission.envelope(), dropped_documents=dropped,
        prompt_filter_results=[PromptAnnotation(prompt_index=0, content_filter_results=results)]))
    if submission.answer_without_model is not None:
        await _answer_without_model(submission, submission.answer_without_model, policy, ports)
        return
    await ports.generation.publish(GenerateCompletion(
        **submission.envelope(), model=submission.model, messages=messages,
        sampling=submission.sampling, stream=submission.stream, adapter=submission.adapter,
        raw_prompt=submission.raw_prompt, tools=submission.tools, tool_choice=submission.tool_choice))


async def _answer_without_model(submission: PromptSubmitted, answer: str, policy: EffectivePolicy,
                                ports: FilterPorts) -> None:
    """The platform's own answer (nothing relevant was retrieved), screened like any completion."""
    verdict = await ports.screen.screen_completion(answer, policy)
    choices = [ReplyChoice(index=i, text="" if verdict.blocked else answer,
                           finish_reason="content_filter" if verdict.blocked else "stop",
                           content_filter_results=verdict.results) for i in range(submission.sampling.n)]
    await ports.replies.publish(CompletionReady(
        **submission.envelope(), sequence=0, final=True, model=submission.model, choices=choices,
        usage=Usage(prompt_tokens=0, completion_tokens=0, total_tokens=0)))


STREAM_INTERRUPTED = ApiError(
    status=503, type="server_error", code="stream_interrupted",
    message="The answer was interrupted inside the service (a replica restarted); retry the request.")


async def _stream_of(event: CompletionGenerated, ports: FilterPorts) -> RequestStream:
    state = ports.streams.get(event.request_id)
    if state is None:
        policy = await ports.policies.policy_for(event.resource_id, event.deployment)
        # All of a choice's text in one final event (not streamed): screen it before release in any mode.
        mode = "buffered" if event.final else policy.policy.streaming
        state = RequestStream(mode=mode, policy=policy, attempt_id=event.attempt_id)
        if not event.final:
            ports.streams.put(event.request_id, state)
    return state


def _for_the_caller(event: CompletionGenerated, ports: FilterPorts) -> bool | None:
    """Whether the event goes on to the caller (True), is dropped (False), or tells that the
    request's stream is lost (None).

    One attempt per request reaches the caller, the first one seen; a request already answered
    takes nothing more. Without a state, only an attempt's first event (or an error) can start a
    stream: a later one means the text before it passed through a replica that forgot it (this
    one, restarted, or another before the partition moved). Another attempt that finishes while
    the kept one is still open means the kept one's engine run was lost (its replica died).
    """
    if ports.streams.settled(event.request_id):
        return False
    state = ports.streams.get(event.request_id)
    if state is not None and event.attempt_id != state.attempt_id:
        return None if event.final else False
    if state is None and event.sequence > 0 and event.error is None:
        return None
    return True


async def _interrupted(event: CompletionGenerated, ports: FilterPorts) -> None:
    """The caller gets an explicit error at once instead of waiting out its time-out."""
    log.warning("request %s: stream lost at event %d (attempt %s); answered with an error",
                event.request_id, event.sequence, event.attempt_id)
    ports.streams.drop(event.request_id)
    await ports.replies.publish(RequestFailed(**event.envelope(), error=STREAM_INTERRUPTED))
    if not event.final:
        await ports.cancellations.publish(CancelGeneration(**event.envelope(), reason="stream_interrupted"))


async def screen_generation(event: CompletionGenerated, ports: FilterPorts) -> None:
    """Screen each choice's text in windows; a filtered choice is cut and, mid-stream, its generation stopped."""
    verdict = _for_the_caller(event, ports)
    if verdict is None:
        await _interrupted(event, ports)
        return
    if not verdict:
        log.info("request %s: event %d of attempt %s dropped (another attempt, or already answered)",
                 event.request_id, event.sequence, event.attempt_id)
        return
    if event.error is not None:
        ports.streams.drop(event.request_id)
        await ports.replies.publish(RequestFailed(**event.envelope(), error=event.error))
        return
    state = await _stream_of(event, ports)

    async def screen(text: str) -> ScreenVerdict:
        return await ports.screen.screen_completion(text, state.policy)

    step = buffered if state.mode == "buffered" else asynchronous
    texts: list[ReplyChoice] = []
    annotations: list[ReplyChoice] = []
    cut = False
    for choice in event.choices:
        window = state.window(choice.index)
        if window.stopped:
            continue  # generated before the cancellation reached the engine: never shown
        outcome = await step(window, choice, event.final, screen, ports.windowing)
        if choice.tool_calls and not outcome.cut:
            outcome = await with_tool_calls(outcome, choice, screen)
        texts += [outcome.text] if outcome.text is not None else []
        annotations += outcome.annotations
        if outcome.cut:
            cut = True
            log.info("completion of request %s choice %d filtered", event.request_id, choice.index)
    if event.final:
        ports.streams.drop(event.request_id)
    await _publish(event, state, texts, annotations, ports)
    if cut and not event.final:
        await ports.cancellations.publish(CancelGeneration(**event.envelope(), reason="content_filter"))


async def _publish(event: CompletionGenerated, state: RequestStream, texts: list[ReplyChoice],
                   annotations: list[ReplyChoice], ports: FilterPorts) -> None:
    """Forwarded or released text first, then annotations; the request's last reply carries final and usage."""
    batches = [b for b in (texts, annotations) if b] or ([[]] if event.final else [])
    for position, choices in enumerate(batches):
        last = position == len(batches) - 1
        await ports.replies.publish(CompletionReady(
            **event.envelope(), sequence=state.next_sequence(), final=event.final and last, model=event.model,
            choices=choices, usage=event.usage if last else None))
