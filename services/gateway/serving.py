"""One serving object per accepted call, from admission to its interaction record.

The routes (``services.gateway.routes``) authenticate, read and validate; they then hand the call
to a serving object, which charges the rate limits, publishes the request, answers (whole or
streamed) and, whichever way the answer ends — done, failed, timed out, or the caller gone —
settles the charge and records the interaction exactly once (``ServingChat.finish``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from contracts.base import Envelope
from contracts.common import ApiError
from contracts.gateway_replies import CompletionReady, RequestFailed
from services.gateway.handlers import (
    ChatCall,
    ChatOutcome,
    EmbeddingCall,
    GatewayPorts,
    chat_replies,
    embed,
    interaction_record,
    stored_completion,
)
from services.gateway.openai_response import ChunkWriter, chat_completion, embeddings_list, error_body, text_completion
from services.gateway.rate_limits import Admission, admit, estimate_tokens, settle

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def error_response(error: ApiError, admission: Admission) -> JSONResponse:
    headers = admission.headers
    if error.retry_after_s is not None:
        headers = {**headers, "retry-after": str(error.retry_after_s)}
    return JSONResponse(error_body(error), status_code=error.status, headers=headers)


class ServingChat:
    """An accepted chat (or legacy completions) call.

    ``admitted`` charges the rate limits (raising RateLimited); ``respond`` answers it; ``finish``
    runs once, after the last reply or when the caller leaves, and is the only place that settles
    the charge and records the interaction, for streamed and whole answers alike.
    """

    def __init__(self, call: ChatCall, ports: GatewayPorts, admission: Admission, *,
                 include_usage: bool = False) -> None:
        self.call = call
        self.ports = ports
        self.admission = admission
        self.include_usage = include_usage
        self.outcome = ChatOutcome(model=call.deployment.model, n=call.sampling.n)
        self._replies: AsyncGenerator[Envelope] | None = None
        self._finished = False

    @classmethod
    async def admitted(cls, call: ChatCall, ports: GatewayPorts, *, include_usage: bool = False) -> ServingChat:
        prompt_chars = sum(len(m.content) for m in call.messages)
        admission = await admit(ports.windows, call.resource, call.deployment, estimate_tokens(
            prompt_chars, max_tokens=call.sampling.max_tokens, n=call.sampling.n,
            context_length=call.deployment.context_length))
        return cls(call, ports, admission, include_usage=include_usage)

    async def respond(self) -> Response:
        return await (self.streamed() if self.call.stream else self.whole())

    async def gather(self) -> ChatOutcome:
        """Every reply, assembled; the call is finished when this returns (or raises)."""
        try:
            async for reply in self._open():
                self.outcome.add(reply)
        finally:
            await self.finish()
        return self.outcome

    async def whole(self) -> Response:
        outcome = await self.gather()
        if outcome.error is not None:
            return error_response(outcome.error, self.admission)
        body = text_completion(self.call, outcome) if self.call.raw_prompt else chat_completion(self.call, outcome)
        return JSONResponse(body, headers=self.admission.headers)

    async def streamed(self) -> Response:
        """Server-sent events. A failure before the first completion reply is a real HTTP status
        (the prompt filtered, or the engine refusing the request: a context too long, tool_choice
        auto on a model without a tool parser); the prompt's annotations wait for that reply. After
        it, the caller already has 200, so the error is an event and the record says 200."""
        replies = self._open()
        leading: list[Envelope] = []
        try:
            while not leading or not isinstance(leading[-1], CompletionReady | RequestFailed):
                leading.append(await anext(replies))
                self.outcome.add(leading[-1])
        except BaseException:
            await self.finish()
            raise
        if isinstance(leading[-1], RequestFailed):
            await self.finish()
            return error_response(leading[-1].error, self.admission)
        return _FinishedStream(self._events(leading), self, headers={**SSE_HEADERS, **self.admission.headers})

    async def _events(self, leading: list[Envelope]) -> AsyncIterator[str]:
        writer = ChunkWriter(self.call, include_usage=self.include_usage)
        try:
            for event in (event for reply in leading for event in writer.events(reply)):
                yield event
            async for reply in self._open():
                self.outcome.add(reply)
                if isinstance(reply, RequestFailed):
                    yield writer.error(reply.error)
                    break
                for event in writer.events(reply):
                    yield event
            yield writer.DONE
        finally:
            await self.finish(http_status=200)

    def _open(self) -> AsyncGenerator[Envelope]:
        if self._replies is None:
            self._replies = chat_replies(self.call, self.ports)
        return self._replies

    async def finish(self, *, http_status: int | None = None) -> None:
        """Close the replies (cancelling a generation nobody waits for), settle, record. Once."""
        if self._finished:
            return
        self._finished = True
        if self._replies is not None:
            await self._replies.aclose()
        usage = self.outcome.usage.total_tokens if self.outcome.usage else 0
        await settle(self.ports.windows, self.admission, usage)
        stored = stored_completion(self.call, self.outcome, chat_completion) if self.call.store else None
        await self.ports.bus.record_interaction(interaction_record(
            self.call, self.outcome, self.ports.replica_id, http_status=http_status, stored=stored))


class _FinishedStream(StreamingResponse):
    """A streamed answer whose call is finished even when its body never starts (the caller left
    before the first byte was sent, so the body generator never ran its ``finally``)."""

    def __init__(self, content: AsyncIterator[str], serving: ServingChat, *, headers: dict[str, str]) -> None:
        super().__init__(content, media_type="text/event-stream", headers=headers)
        self._serving = serving

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if isinstance(self.body_iterator, AsyncGenerator):
                await self.body_iterator.aclose()
            await self._serving.finish(http_status=200)


class ServingEmbeddings:
    """An accepted embeddings call: admitted, answered, settled. Embeddings skip the filter and
    are not retained (as in Azure OpenAI), so there is no record."""

    def __init__(self, call: EmbeddingCall, ports: GatewayPorts, admission: Admission, *,
                 encoding_format: str) -> None:
        self.call = call
        self.ports = ports
        self.admission = admission
        self.encoding_format = encoding_format

    @classmethod
    async def admitted(cls, call: EmbeddingCall, ports: GatewayPorts, *, encoding_format: str) -> ServingEmbeddings:
        admission = await admit(ports.windows, call.resource, call.deployment,
                                estimate_tokens(sum(map(len, call.inputs))))
        return cls(call, ports, admission, encoding_format=encoding_format)

    async def respond(self) -> Response:
        used = 0
        try:
            reply = await embed(self.call, self.ports)
            if isinstance(reply, RequestFailed):
                return error_response(reply.error, self.admission)
            used = reply.prompt_tokens
            return JSONResponse(embeddings_list(reply, encoding_format=self.encoding_format),
                                headers=self.admission.headers)
        finally:
            await settle(self.ports.windows, self.admission, used)
