"""What inference does with a generation request and with a cancellation."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from contracts.common import ApiError, Usage
from contracts.generation_cancellations import CancelGeneration
from contracts.generation_events import CompletionGenerated, GeneratedChoice
from contracts.generation_requests import GenerateCompletion
from services.inference.errors import InvalidGenerationRequest
from services.inference.ports import CompletionEngine, GenerationEvents

log = logging.getLogger("residency.inference.handlers")


@dataclass(frozen=True)
class InferencePorts:
    engine: CompletionEngine
    events: GenerationEvents


def _event(cmd: GenerateCompletion, **fields) -> CompletionGenerated:
    return CompletionGenerated(**cmd.envelope(), **fields)


async def generate_completion(cmd: GenerateCompletion, ports: InferencePorts) -> None:
    """Run the request on the engine; publish chunks when streaming, then one final event."""
    if not ports.engine.serves(cmd.model):
        error = ApiError(status=404, code="DeploymentNotFound", type="invalid_request_error",
                         message=f"The model '{cmd.model}' of deployment '{cmd.deployment}' is not served here.")
        await ports.events.publish(_event(cmd, sequence=0, final=True, model=cmd.model, error=error))
        return

    texts = [""] * cmd.sampling.n
    reasons: list[str | None] = [None] * cmd.sampling.n
    sequence, prompt_tokens, completion_tokens = 0, 0, 0
    try:
        async for step in ports.engine.generate(cmd):
            prompt_tokens, completion_tokens = step.prompt_tokens, step.completion_tokens
            for delta in step.deltas:
                texts[delta.index] += delta.text
                reasons[delta.index] = delta.finish_reason or reasons[delta.index]
            if cmd.stream and any(d.text for d in step.deltas) and not all(reasons):
                chunk = [GeneratedChoice(index=i, text=t) for i, t in enumerate(texts) if t]
                await ports.events.publish(_event(cmd, sequence=sequence, final=False, model=cmd.model, choices=chunk))
                sequence += 1
                texts = [""] * cmd.sampling.n
    except InvalidGenerationRequest as invalid:
        log.info("request %s refused by the engine: %s", cmd.request_id, type(invalid).__name__)
        error = ApiError(status=400, code="invalid_request", type="invalid_request_error",
                         message=str(invalid), param=invalid.param)
        await ports.events.publish(_event(cmd, sequence=sequence, final=True, model=cmd.model, error=error))
        return

    final = [GeneratedChoice(index=i, text=texts[i], finish_reason=reasons[i] or "stop")
             for i in range(cmd.sampling.n)]
    usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                  total_tokens=prompt_tokens + completion_tokens)
    await ports.events.publish(_event(cmd, sequence=sequence, final=True, model=cmd.model,
                                      choices=final, usage=usage))


async def cancel_generation(cmd: CancelGeneration, ports: InferencePorts) -> None:
    """Abort the request in the engine if it is running here; other replicas ignore it."""
    if await ports.engine.abort(cmd.request_id):
        log.info("aborted request %s (%s)", cmd.request_id, cmd.reason)
