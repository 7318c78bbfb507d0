"""What inference does with generation requests, embedding requests and cancellations."""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from contracts.common import ApiError, GeneratedToolCall, TokenLogprob, Usage
from contracts.embedding_requests import EmbedTexts
from contracts.gateway_replies import EmbeddingsReady, RequestFailed
from contracts.generation_cancellations import CancelGeneration
from contracts.generation_events import CompletionGenerated, GeneratedChoice
from contracts.generation_requests import GenerateCompletion
from contracts.tuning_jobs import TrainFineTuningJob
from contracts.tuning_model_deletions import DeleteFineTunedModel
from services.inference.errors import EngineStarting, EngineUnavailable, InvalidGenerationRequest
from services.inference.ports import (
    CompletionEngine,
    EmbeddingEngine,
    EngineStep,
    GenerationEvents,
    Replies,
    ToolCallParsers,
    ToolCallReader,
)

log = logging.getLogger("residency.inference.handlers")


@dataclass(frozen=True)
class StreamPolicy:
    """Streamed tokens are grouped: an event per ``tokens`` tokens, or after ``window_s``."""

    tokens: int = 4
    window_s: float = 0.05


@dataclass(frozen=True)
class InferencePorts:
    engine: CompletionEngine
    events: GenerationEvents
    embeddings: EmbeddingEngine | None = None
    replies: Replies | None = None
    query_embeddings: Replies | None = None  # answers to retrieval replicas (answer_to="retrieval")
    stream: StreamPolicy = field(default_factory=StreamPolicy)
    tool_calls: ToolCallParsers | None = None  # the models that take tool_choice auto, and their parsers


def _error(status: int, code: str, message: str, param: str | None = None) -> ApiError:
    return ApiError(status=status, code=code, message=message, param=param,
                    type="invalid_request_error" if status < 500 else "server_error")


ENGINE_FAILED = ApiError(status=503, code="engine_unavailable", type="server_error",
                         message="The model engine failed and is restarting; retry the request.")


def _not_served(model: str, deployment: str) -> ApiError:
    return _error(404, "DeploymentNotFound", f"The model '{model}' of deployment '{deployment}' is not served here.")


def _no_tool_parser(model: str) -> ApiError:
    return _error(400, "unsupported_tool_choice", f"tool_choice 'auto' (the default when tools are given) is not "
                  f"supported by the model '{model}': it has no tool parser. Use tool_choice 'required' or name a "
                  "function; the model is then held to the functions' parameter schemas.", "tool_choice")


class _Choices:
    """Text, logprobs and finish reasons gathered since the last published event; with ``readers``
    (tool_choice auto), each choice's text goes through its reader, and its calls come at the end."""

    def __init__(self, n: int, readers: list[ToolCallReader] | None = None) -> None:
        self.texts = [""] * n
        self.logprobs: list[list[TokenLogprob]] = [[] for _ in range(n)]
        self.reasons: list[str | None] = [None] * n
        self.tokens = 0
        self.readers = readers

    def add(self, step: EngineStep) -> None:
        for delta in step.deltas:
            text = self.readers[delta.index].feed(delta.text) if self.readers else delta.text
            self.texts[delta.index] += text
            self.logprobs[delta.index] += delta.logprobs
            self.reasons[delta.index] = delta.finish_reason or self.reasons[delta.index]
            self.tokens += delta.token_count

    def take(self, *, final: bool, with_logprobs: bool) -> list[GeneratedChoice]:
        calls: list[list[GeneratedToolCall]] = [[] for _ in self.texts]
        if final and self.readers:
            for i, reader in enumerate(self.readers):
                rest, calls[i] = reader.finish()
                self.texts[i] += rest
        choices = [GeneratedChoice(index=i, text=t, finish_reason=(self.reasons[i] or "stop") if final else None,
                                   logprobs=self.logprobs[i] if with_logprobs else None, tool_calls=calls[i])
                   for i, t in enumerate(self.texts) if final or t]
        self.texts = [""] * len(self.texts)
        self.logprobs = [[] for _ in self.texts]
        self.tokens = 0
        return choices


def new_attempt_id() -> str:
    return uuid.uuid4().hex[:16]


async def generate_completion(cmd: GenerateCompletion, ports: InferencePorts) -> None:
    """Run the request on the engine; publish grouped chunks when streaming, then one final event.

    Every event of this run carries one attempt ID: a request delivered again to another replica
    (its partition moved mid-flight) runs under another, and the filter keeps only one of them.
    """
    event = functools.partial(CompletionGenerated, **cmd.envelope(), attempt_id=new_attempt_id(), model=cmd.model)
    if not ports.engine.serves(cmd.model):
        await ports.events.publish(event(sequence=0, final=True, error=_not_served(cmd.model, cmd.deployment)))
        return
    readers = _tool_call_readers(cmd, ports)
    if cmd.tool_choice == "auto" and readers is None:
        log.info("request %s refused: tool_choice auto, and model %s has no tool parser", cmd.request_id, cmd.model)
        await ports.events.publish(event(sequence=0, final=True, error=_no_tool_parser(cmd.model)))
        return
    pending, sequence = _Choices(cmd.sampling.n, readers), 0
    usage: tuple[int, int, int | None] = (0, 0, None)
    last_sent = time.monotonic()
    try:
        async for step in ports.engine.generate(cmd):
            usage = (step.prompt_tokens, step.completion_tokens, step.cached_prompt_tokens)
            pending.add(step)
            # The first text goes out at once (time to first token); later text in groups.
            due = (sequence == 0 or pending.tokens >= ports.stream.tokens
                   or time.monotonic() - last_sent >= ports.stream.window_s)
            if cmd.stream and due and any(pending.texts) and not all(pending.reasons):
                choices = pending.take(final=False, with_logprobs=cmd.sampling.logprobs)
                await ports.events.publish(event(sequence=sequence, final=False, choices=choices))
                sequence, last_sent = sequence + 1, time.monotonic()
    except InvalidGenerationRequest as invalid:
        log.info("request %s refused by the engine (%s)", cmd.request_id, invalid.code)
        error = _error(400, invalid.code, str(invalid), invalid.param)
        await ports.events.publish(event(sequence=sequence, final=True, error=error))
        return
    except EngineStarting as starting:
        log.info("request %s refused: engine starting", cmd.request_id)
        error = ENGINE_FAILED.model_copy(update={
            "code": "engine_starting", "retry_after_s": starting.retry_after_s,
            "message": f"The model's engine is starting; retry in {starting.retry_after_s} s."})
        await ports.events.publish(event(sequence=sequence, final=True, error=error))
        return
    except EngineUnavailable:
        log.error("request %s lost to an engine failure", cmd.request_id)
        await ports.events.publish(event(sequence=sequence, final=True, error=ENGINE_FAILED))
        return
    prompt_tokens, completion_tokens, cached = usage
    await ports.events.publish(event(
        sequence=sequence, final=True,
        choices=pending.take(final=True, with_logprobs=cmd.sampling.logprobs),
        usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                    total_tokens=prompt_tokens + completion_tokens, cached_prompt_tokens=cached)))


def _tool_call_readers(cmd: GenerateCompletion, ports: InferencePorts) -> list[ToolCallReader] | None:
    """tool_choice auto: a reader of the model's tool parser per choice; None if it has none."""
    if cmd.tool_choice != "auto" or ports.tool_calls is None:
        return None
    readers = [ports.tool_calls.reader(cmd.model, cmd.tools) for _ in range(cmd.sampling.n)]
    return None if None in readers else [r for r in readers if r is not None]


async def embed_texts(request: EmbedTexts, ports: InferencePorts) -> None:
    """Embed the inputs and answer the asking replica directly (a gateway's, or retrieval's)."""
    replies = ports.query_embeddings if request.answer_to == "retrieval" else ports.replies
    assert ports.embeddings is not None and replies is not None
    if not ports.embeddings.serves(request.model):
        await replies.publish(RequestFailed(**request.envelope(), error=_not_served(request.model, request.deployment)))
        return
    try:
        result = await ports.embeddings.embed(request)
    except InvalidGenerationRequest as invalid:
        await replies.publish(RequestFailed(**request.envelope(),
                                            error=_error(400, invalid.code, str(invalid), invalid.param)))
        return
    except EngineUnavailable:
        await replies.publish(RequestFailed(**request.envelope(), error=ENGINE_FAILED))
        return
    await replies.publish(EmbeddingsReady(**request.envelope(), model=request.model,
                                          embeddings=result.vectors, prompt_tokens=result.prompt_tokens))


async def cancel_generation(cmd: CancelGeneration, ports: InferencePorts) -> None:
    """Abort the request in the engine if it is running here; other replicas ignore it."""
    if await ports.engine.abort(cmd.request_id):
        log.info("aborted request %s (%s)", cmd.request_id, cmd.reason)


async def warm_adapter_engine(job: TrainFineTuningJob, engines: Sequence[object]) -> None:
    """Every replica: a fine-tuning job was queued, so its model will soon be asked for; an engine
    that runs adapters on an engine of their own starts building it now."""
    for engine in engines:
        warm = getattr(engine, "warm_adapters", None)
        if warm is not None and warm(job.model):
            log.info("job %s of %s queued: adapter engine of %s building", job.job_id, job.resource_id, job.model)


async def unload_adapter(command: DeleteFineTunedModel, engines: Sequence[object]) -> None:
    """Every replica: the deleted model's plaintext adapter goes from every chat engine that has it."""
    for engine in engines:
        unload = getattr(engine, "unload_adapter", None)
        if unload is not None and await unload(command.resource_id, command.model):
            log.info("adapter %s of %s unloaded", command.model, command.resource_id)
