"""A chat model on vLLM's ``AsyncLLM``: continuous batching by vLLM's own scheduler.

Every request is handed to the engine as soon as it arrives; vLLM batches whatever is running.
An engine that dies fails the requests it held (EngineUnavailable) and is started again once.
With a separate adapter engine (``lora_engine``), base-model requests run on an engine built without
LoRA and requests that name an adapter on a second one, built when a fine-tuning job of the model is
queued or else when the first of them arrives.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from contracts.common import TokenLogprob, TopLogprob
from contracts.generation_requests import GenerateCompletion
from services.inference.adapters.sealed_adapters import SealedAdapters, is_fine_tuned
from services.inference.adapters.vllm_setup import (
    BusyStats,
    EngineHolder,
    engine_args,
    prepare_environment,
    resolve_model,
)
from services.inference.chat_prompt import native_messages, template_messages, tool_specs
from services.inference.errors import EngineUnavailable, InvalidGenerationRequest
from services.inference.ports import ChoiceDelta, EngineStep
from services.inference.settings import EngineOptions
from services.inference.telemetry import record_request_spans

log = logging.getLogger("residency.inference.engine")


def cache_salt(resource_id: str) -> str:
    """vLLM's prefix cache, salted per resource: a cached prefix is reused only by requests of the
    same resource, so no tenant can time another's prompts (a cache hit answers faster)."""
    return f"residency-resource/{resource_id}"


class VllmChatEngine:
    def __init__(self, name: str, model: str, options: EngineOptions, *, adapter_dir: Path, work_dir: Path,
                 stats_interval_s: float = 1.0, sealed: SealedAdapters | None = None,
                 tool_template: str | None = None) -> None:
        self.name = name
        self._tool_template = tool_template  # renders tools for tool_choice auto; None: the model's own
        self._model = model
        self._work_dir = work_dir
        self._options = options
        self._adapter_dir = adapter_dir
        self._tokenizer: Any = None
        self._running: dict[str, EngineHolder] = {}  # request ID -> the engine running it
        self._adapters: dict[str, int] = {}
        self._sealed = sealed  # fine-tuned models of the tuning store (services/inference/adapters/sealed_adapters.py)
        self._holder = self._holder_of(name, None, stats_interval_s)
        self._adapter_holder = (self._holder_of(f"{name}+adapters", True, stats_interval_s, on_demand=True)
                                if options.separate_adapter_engine else self._holder)

    def _holder_of(self, name: str, adapters: bool | None, stats_interval_s: float, *,
                   on_demand: bool = False) -> EngineHolder:
        stats = BusyStats(name, stats_interval_s)

        def build() -> Any:
            from vllm.v1.engine.async_llm import AsyncLLM

            prepare_environment(self._options, self._work_dir)
            args = engine_args(resolve_model(self._model), self._options, pooling=False, adapters=adapters)
            return AsyncLLM.from_engine_args(args, stat_loggers=[stats.factory()])

        return EngineHolder(name, build, on_demand=on_demand, wait_s=self._options.adapter_engine_wait_s)

    async def start(self) -> None:
        await self._holder.start()
        self._tokenizer = self._holder.engine.get_tokenizer()

    async def close(self) -> None:
        await self._holder.close()
        await self._adapter_holder.close()
        if self._sealed is not None:
            self._sealed.close()

    def serves(self, model: str) -> bool:
        return model == self.name

    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    async def abort(self, request_id: str) -> bool:
        holder = self._running.get(request_id)
        if holder is None or holder.engine is None:
            return False
        await holder.engine.abort(request_id)
        return True

    def prompt_token_ids(self, request: GenerateCompletion) -> list[int]:
        if request.raw_prompt:
            return list(self._tokenizer.encode(request.messages[-1].content))
        if request.tool_choice == "auto":
            return list(self._tokenizer.apply_chat_template(
                native_messages(request.messages), tools=tool_specs(request.tools), chat_template=self._tool_template,
                add_generation_prompt=True, tokenize=True, return_dict=False))
        messages = template_messages(request.messages, request.tools)
        return list(self._tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                        return_dict=False))

    async def generate(self, request: GenerateCompletion) -> AsyncIterator[EngineStep]:
        from vllm.exceptions import VLLMValidationError
        from vllm.v1.engine.exceptions import EngineDeadError, EngineGenerateError

        prompt_ids = self.prompt_token_ids(request)
        params = sampling_params(request, len(prompt_ids), self._options.max_model_len,
                                 vocab_size=len(self._tokenizer))
        lora = await self._fine_tuned(request) or self._lora(request.adapter)
        holder = self._holder if lora is None else self._adapter_holder
        engine = await holder.for_request()
        completion_tokens = 0
        self._running[request.request_id] = holder
        try:
            prompt = {"prompt_token_ids": prompt_ids, "cache_salt": cache_salt(request.resource_id)}
            async for output in engine.generate(prompt, params, request_id=request.request_id, lora_request=lora):
                deltas = tuple(self._delta(o, request) for o in output.outputs)
                completion_tokens += sum(d.token_count for d in deltas)
                if output.finished:  # before the last step goes out: its spans end inside the request's
                    record_request_spans(self.name, output.metrics)
                yield EngineStep(deltas, len(prompt_ids), completion_tokens, output.num_cached_tokens)
        except (VLLMValidationError, ValueError) as error:
            raise InvalidGenerationRequest(str(error).split("\n")[0]) from None
        except EngineDeadError:
            holder.restart()
            raise EngineUnavailable(f"engine {holder.name} died") from None
        except EngineGenerateError as error:
            # The engine lives on; this request failed inside it. The cause's type says why, not its text.
            log.error("request %s failed in engine %s: %s", request.request_id, self.name,
                      type(error.__cause__).__name__)
            raise EngineUnavailable(f"engine {self.name} could not run the request") from None
        finally:
            self._running.pop(request.request_id, None)

    def _delta(self, output: Any, request: GenerateCompletion) -> ChoiceDelta:
        logprobs: tuple[TokenLogprob, ...] = ()
        if request.sampling.logprobs and output.logprobs:
            top = request.sampling.top_logprobs or 0
            logprobs = tuple(_token_logprob(token_id, alternatives, top)
                             for token_id, alternatives in zip(output.token_ids, output.logprobs, strict=False))
        return ChoiceDelta(output.index, output.text, output.finish_reason, len(output.token_ids), logprobs)

    async def _fine_tuned(self, request: GenerateCompletion) -> Any:
        """A fine-tuned model of the request's own resource, opened from the sealed store; vLLM knows
        it as ``<resource>/<model>``, so no other resource's request can name its slot."""
        if request.adapter is None or self._sealed is None or not is_fine_tuned(request.adapter):
            return None
        if not self._options.enable_lora:
            raise InvalidGenerationRequest("This deployment does not serve fine-tuned adapters.", param="model")
        folder = await self._sealed.folder(request.resource_id, request.adapter)
        if folder is None:
            raise InvalidGenerationRequest(f"The fine-tuned model '{request.adapter}' does not exist.", param="model",
                                           code="DeploymentNotFound")
        from vllm.lora.request import LoRARequest

        name = f"{request.resource_id}/{request.adapter}"
        lora_id = self._adapters.setdefault(name, len(self._adapters) + 1)
        return LoRARequest(name, lora_id, str(folder))

    def warm_adapters(self, base_model: str) -> bool:
        """A fine-tuning job of this engine's model was queued: build the adapter engine now, while it
        trains, rather than on the first request to the model (which would wait about a minute on
        CPU). True if a build began."""
        return self.serves(base_model) and self._sealed is not None and self._adapter_holder.warm()

    async def unload_adapter(self, resource_id: str, model: str) -> bool:
        """A fine-tuned model was deleted: its plaintext goes, and vLLM forgets it."""
        if self._sealed is None:
            return False
        removed = self._sealed.unload(resource_id, model)
        lora_id = self._adapters.get(f"{resource_id}/{model}")
        if lora_id is not None and self._adapter_holder.engine is not None:
            await self._adapter_holder.engine.remove_lora(lora_id)
        return removed

    def _lora(self, adapter: str | None) -> Any:
        if adapter is None:
            return None
        if not self._options.enable_lora:
            raise InvalidGenerationRequest("This deployment does not serve fine-tuned adapters.", param="model")
        path = self._adapter_dir / adapter
        if not (path / "adapter_config.json").exists():
            raise InvalidGenerationRequest(f"The adapter '{adapter}' does not exist.", param="model",
                                           code="DeploymentNotFound")
        from vllm.lora.request import LoRARequest

        lora_id = self._adapters.setdefault(adapter, len(self._adapters) + 1)
        return LoRARequest(adapter, lora_id, str(path))


def _token_logprob(token_id: int, alternatives: dict[int, Any], top: int) -> TokenLogprob:
    chosen = alternatives[token_id]
    ranked = sorted(alternatives.values(), key=lambda lp: lp.rank)[:top]
    text = chosen.decoded_token or ""
    return TokenLogprob(token=text, logprob=chosen.logprob, bytes=list(text.encode()),
                        top_logprobs=[TopLogprob(token=lp.decoded_token or "", logprob=lp.logprob,
                                                 bytes=list((lp.decoded_token or "").encode())) for lp in ranked])


def sampling_params(request: GenerateCompletion, prompt_tokens: int, max_model_len: int, *, vocab_size: int) -> Any:
    """OpenAI's sampling fields as vLLM SamplingParams; refuses what would overflow the context."""
    from vllm import SamplingParams
    from vllm.sampling_params import RequestOutputKind, StructuredOutputsParams

    s = request.sampling
    room = max_model_len - prompt_tokens
    if room <= 0:
        raise InvalidGenerationRequest(
            f"This model's maximum context length is {max_model_len} tokens. However, your messages "
            f"resulted in {prompt_tokens} tokens. Please reduce the length of the messages.",
            param="messages", code="context_length_exceeded")
    if s.max_tokens is not None and s.max_tokens > room:
        raise InvalidGenerationRequest(
            f"This model's maximum context length is {max_model_len} tokens. However, you requested "
            f"{prompt_tokens + s.max_tokens} tokens ({prompt_tokens} in the messages, {s.max_tokens} in "
            "the completion). Please reduce the length of the messages or completion.",
            param="max_tokens", code="context_length_exceeded")
    try:
        logit_bias = {int(token): bias for token, bias in s.logit_bias.items()}
    except ValueError:
        raise InvalidGenerationRequest("logit_bias keys must be token IDs.", param="logit_bias") from None
    if any(not 0 <= t < vocab_size or not -100 <= b <= 100 for t, b in logit_bias.items()):
        raise InvalidGenerationRequest(f"logit_bias takes token IDs below {vocab_size} and biases in "
                                       "[-100, 100].", param="logit_bias")
    return SamplingParams(
        n=s.n, temperature=s.temperature, top_p=s.top_p, max_tokens=s.max_tokens or room, stop=s.stop or None,
        seed=s.seed, presence_penalty=s.presence_penalty, frequency_penalty=s.frequency_penalty,
        logit_bias=logit_bias or None, ignore_eos=s.ignore_eos, logprobs=(s.top_logprobs or 0) if s.logprobs else None,
        # Tool-call markers are special tokens in some vocabularies: kept in the text for the tool parser.
        skip_special_tokens=request.tool_choice != "auto",
        structured_outputs=structured_outputs(request, StructuredOutputsParams), output_kind=RequestOutputKind.DELTA)


def structured_outputs(request: GenerateCompletion, params: Any) -> Any:
    """vLLM's guided decoding: a JSON Schema (structured outputs, required function calls) or any
    JSON object. No free whitespace between tokens: a small model left free pads JSON with newlines
    until max_tokens."""
    s = request.sampling
    if s.json_schema is not None:
        return params(json=json.loads(s.json_schema), disable_any_whitespace=True)
    if s.response_format == "json_object":
        return params(json_object=True)
    return None
