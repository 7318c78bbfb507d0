"""What the gateway does with an accepted chat request: publish it, gather its replies, record it.

These are plain functions of (call, ports): the HTTP routes parse and authenticate, then call
them; tests call them with fakes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts.base import Envelope, utc_now
from contracts.common import (
    ApiError,
    ChatMessage,
    Citation,
    FilterResults,
    GeneratedToolCall,
    SamplingParams,
    TokenLogprob,
    Usage,
)
from contracts.embedding_requests import EmbedTexts
from contracts.gateway_replies import (
    WITHHELD_DOCUMENT,
    CompletionReady,
    EmbeddingsReady,
    GroundingFound,
    PromptAnnotation,
    PromptScreened,
    RequestFailed,
    StoredCompletionsFound,
)
from contracts.generation_cancellations import CancelGeneration
from contracts.grounding_requests_v2 import ConnectionDataSource, GroundingRequested
from contracts.interaction_records import InteractionCompleted, StoredCompletion
from contracts.prompt_submissions import PromptSubmitted
from services.gateway.data_connections import DataConnections
from services.gateway.ports import ReplyInbox, RequestBus, ResourceDirectory
from services.gateway.rate_limits import WindowCounter
from services.gateway.resources import Deployment, Resource
from services.gateway.tool_calls import ToolUse


@dataclass(frozen=True)
class GatewayPorts:
    resources: ResourceDirectory
    bus: RequestBus
    inbox: ReplyInbox
    windows: WindowCounter
    connections: DataConnections
    region: str
    replica_id: str
    reply_timeout_s: float


@dataclass(frozen=True, kw_only=True)
class AcceptedCall:
    """What every authenticated, validated request has: its ID, resource and deployment."""

    request_id: str
    resource: Resource
    deployment: Deployment
    created_at: datetime = field(default_factory=utc_now)

    def envelope(self, replica_id: str) -> dict[str, object]:
        return {"request_id": self.request_id, "resource_id": self.resource.resource_id,
                "region": self.resource.region, "deployment": self.deployment.name,
                "created_at": self.created_at, "reply_to": replica_id}


@dataclass(frozen=True, kw_only=True)
class ChatCall(AcceptedCall):
    """An authenticated, validated chat request."""

    messages: list[ChatMessage]
    sampling: SamplingParams
    stream: bool = False
    end_user: str | None = None
    data_source: ConnectionDataSource | None = None  # resolved to a connection of the resource
    raw_prompt: bool = False  # legacy /completions: the one message is the prompt, no chat template
    tools: ToolUse | None = None  # how the model calls the offered functions (answered as tool_calls)
    store: bool = False  # keep request and answer for the stored-completions API
    metadata: dict[str, str] = field(default_factory=dict)  # the stored completion's tags


@dataclass
class ChatOutcome:
    """The replies of one request, assembled."""

    model: str
    n: int
    texts: list[str] = field(default_factory=list)
    logprobs: list[list[TokenLogprob] | None] = field(default_factory=list)
    finish_reasons: list[str | None] = field(default_factory=list)
    tool_calls: list[list[GeneratedToolCall]] = field(default_factory=list)  # the model's own calls (auto)
    choice_filter_results: list[FilterResults] = field(default_factory=list)
    prompt_filter_results: list[PromptAnnotation] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    grounding: GroundingFound | None = None  # intent and all retrieved documents, as retrieval sent them
    usage: Usage | None = None
    error: ApiError | None = None

    def __post_init__(self) -> None:
        self.texts = [""] * self.n
        self.logprobs = [None] * self.n
        self.finish_reasons = [None] * self.n
        self.tool_calls = [[] for _ in range(self.n)]
        self.choice_filter_results = [{} for _ in range(self.n)]

    @property
    def status(self) -> int:
        return self.error.status if self.error else 200

    def add(self, reply: Envelope) -> None:
        if isinstance(reply, GroundingFound):
            self.citations = list(reply.citations)
            self.grounding = reply
        elif isinstance(reply, PromptScreened):
            self.prompt_filter_results = list(reply.prompt_filter_results)
        elif isinstance(reply, RequestFailed):
            self.error = reply.error
        elif isinstance(reply, CompletionReady):
            self.model = reply.model
            for choice in reply.choices:
                if self.finish_reasons[choice.index] is not None:
                    continue  # a finished (e.g. filtered) choice takes no more text
                self.texts[choice.index] += choice.text
                self.tool_calls[choice.index] += choice.tool_calls
                if choice.logprobs is not None:
                    self.logprobs[choice.index] = (self.logprobs[choice.index] or []) + choice.logprobs
                self.finish_reasons[choice.index] = choice.finish_reason
                self.choice_filter_results[choice.index] = choice.content_filter_results
            self.usage = reply.usage or self.usage


def is_last(reply: Envelope) -> bool:
    last_kinds = RequestFailed | EmbeddingsReady | StoredCompletionsFound
    return isinstance(reply, last_kinds) or (isinstance(reply, CompletionReady) and reply.final)


async def _publish_request(call: ChatCall, ports: GatewayPorts) -> None:
    common = dict(**call.envelope(ports.replica_id), model=call.deployment.model, messages=call.messages,
                  sampling=call.sampling, stream=call.stream, end_user=call.end_user, adapter=call.deployment.adapter)
    if call.data_source is not None:
        await ports.bus.request_grounding(GroundingRequested(**common, data_source=call.data_source))
    else:
        await ports.bus.submit_prompt(PromptSubmitted(**common, raw_prompt=call.raw_prompt,
                                                      tools=call.tools.shown if call.tools else [],
                                                      tool_choice=call.tools.mode if call.tools else None))


async def replies_for(request_id: str, envelope: dict[str, object], publish: Callable[[], Awaitable[None]],
                      ports: GatewayPorts) -> AsyncGenerator[Envelope]:
    """Publish a request and yield its replies up to the last one.

    No reply in time: a cancellation goes out and a 504 ends the stream. A caller that stops
    listening (closes this generator) cancels too.
    """
    with ports.inbox.open(request_id) as inbox:
        await publish()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ports.reply_timeout_s
        finished = False
        try:
            while not finished:
                try:
                    reply = await inbox.next(max(0.0, deadline - loop.time()))
                except TimeoutError:
                    finished = True
                    await ports.bus.cancel(CancelGeneration(**envelope, reason="timeout"))
                    yield RequestFailed(**envelope, error=ApiError(
                        status=504, type="timeout", code="timeout",
                        message=f"No answer within {ports.reply_timeout_s:g} s; the request was cancelled."))
                    return
                finished = is_last(reply)
                yield reply
        finally:
            if not finished:
                await ports.bus.cancel(CancelGeneration(**envelope, reason="client_disconnected"))


def withheld(found: GroundingFound, dropped: list[int]) -> GroundingFound:
    """The citations the filter dropped from the prompt keep their place ([docN]) and ID, not their text."""
    if not dropped:
        return found
    ids = {found.citations[i].chunk_id for i in dropped if i < len(found.citations)}
    citations = [Citation(content=WITHHELD_DOCUMENT, chunk_id=c.chunk_id) if i in dropped else c
                 for i, c in enumerate(found.citations)]
    retrieved = [d.model_copy(update={"content": WITHHELD_DOCUMENT, "title": None, "url": None, "filepath": None})
                 if d.chunk_id in ids else d for d in found.all_retrieved_documents]
    return found.model_copy(update={"citations": citations, "all_retrieved_documents": retrieved})


async def released_after_screening(replies: AsyncGenerator[Envelope]) -> AsyncGenerator[Envelope]:
    """Citations reach the caller only after the prompt passed screening.

    Retrieval answers with its citations before the filter has screened the grounded prompt:
    they are held until the prompt's annotation (or, failing that, the first completion) arrives,
    and dropped when the request fails first, e.g. because the prompt was filtered.
    """
    held: GroundingFound | None = None
    async with aclosing(replies):
        async for reply in replies:
            if isinstance(reply, GroundingFound):
                held = reply
                continue
            if held is not None and isinstance(reply, PromptScreened):
                yield reply
                reply, held = withheld(held, reply.dropped_documents), None
            elif held is not None and isinstance(reply, CompletionReady):
                yield held
                held = None
            elif isinstance(reply, RequestFailed):
                held = None
            yield reply


def chat_replies(call: ChatCall, ports: GatewayPorts) -> AsyncGenerator[Envelope]:
    """The replies of a chat request (see ``replies_for``), citations released after screening."""
    return released_after_screening(
        replies_for(call.request_id, call.envelope(ports.replica_id), lambda: _publish_request(call, ports), ports))


def stored_completion(call: ChatCall, outcome: ChatOutcome,
                      body: Callable[[ChatCall, ChatOutcome], dict[str, Any]]) -> StoredCompletion | None:
    """What ``store: true`` keeps: the request's messages and the answer the caller received
    (``body`` builds it, as the response did); only a whole, successful chat completion."""
    if not call.store or outcome.error is not None or call.raw_prompt or not all(outcome.finish_reasons):
        return None
    return StoredCompletion(completion_id=f"chatcmpl-{call.request_id}", model=outcome.model,
                            metadata=call.metadata, messages=call.messages, response=json.dumps(body(call, outcome)))


def retained_completions(outcome: ChatOutcome) -> list[str]:
    """Each choice's text as retention keeps it: the model's own calls (auto) follow the text as
    the JSON array of ``{"name", "arguments"}`` a required call's text is, so they are kept too."""
    return [text + (json.dumps([{"name": c.name, "arguments": c.arguments} for c in calls], ensure_ascii=False)
                    if calls else "")
            for text, calls in zip(outcome.texts, outcome.tool_calls, strict=True)]


def interaction_record(call: ChatCall, outcome: ChatOutcome, replica_id: str, *,
                       http_status: int | None = None, stored: StoredCompletion | None = None) -> InteractionCompleted:
    logging_on = call.resource.content_logging
    return InteractionCompleted(
        **call.envelope(replica_id), completed_at=utc_now(), status=http_status or outcome.status,
        end_user=call.end_user,
        content_logging=logging_on,
        messages=call.messages if logging_on else [],
        completions=retained_completions(outcome) if logging_on else [],
        finish_reasons=outcome.finish_reasons,
        prompt_filter_results=[p.content_filter_results for p in outcome.prompt_filter_results],
        completion_filter_results=outcome.choice_filter_results,
        citation_ids=[c.chunk_id for c in outcome.citations],
        error_code=outcome.error.code if outcome.error else None,
        usage=outcome.usage, stored=stored)


@dataclass(frozen=True, kw_only=True)
class EmbeddingCall(AcceptedCall):
    """An authenticated, validated embeddings request."""

    inputs: list[str]
    dimensions: int | None = None
    end_user: str | None = None


async def embed(call: EmbeddingCall, ports: GatewayPorts) -> EmbeddingsReady | RequestFailed:
    """Embeddings skip the filter (as in Azure OpenAI) and are not retained."""
    envelope = call.envelope(ports.replica_id)
    request = EmbedTexts(**envelope, model=call.deployment.model, inputs=call.inputs,
                         dimensions=call.dimensions, end_user=call.end_user)
    async with aclosing(replies_for(call.request_id, envelope,
                                    lambda: ports.bus.request_embeddings(request), ports)) as replies:
        async for reply in replies:
            if isinstance(reply, EmbeddingsReady | RequestFailed):
                return reply
    raise AssertionError("replies_for always ends with a last reply")
