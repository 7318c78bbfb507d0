"""OpenAI / Azure OpenAI response bodies built from assembled or streamed replies."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

from contracts.base import Envelope
from contracts.common import ApiError, TokenLogprob, Usage
from contracts.gateway_replies import CompletionReady, EmbeddingsReady, GroundingFound, PromptScreened, ReplyChoice
from contracts.grounding_requests_v2 import DEFAULT_CONTEXTS
from services.gateway.handlers import ChatCall, ChatOutcome
from services.gateway.tool_calls import FunctionCall, call_id, function_calls, generated_calls


def usage_body(usage: Usage | None) -> dict[str, Any] | None:
    """OpenAI's usage object; prompt_tokens_details.cached_tokens when the engine reported it."""
    if usage is None:
        return None
    body: dict[str, Any] = {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
                            "total_tokens": usage.total_tokens}
    if usage.cached_prompt_tokens is not None:
        body["prompt_tokens_details"] = {"cached_tokens": usage.cached_prompt_tokens}
    return body

def error_body(error: ApiError) -> dict[str, Any]:
    body: dict[str, Any] = {"message": error.message, "type": error.type, "param": error.param, "code": error.code}
    if error.innererror is not None:
        body["status"] = error.status
        body["innererror"] = error.innererror
    return {"error": body}


def logprobs_body(logprobs: list[TokenLogprob] | None) -> dict[str, Any] | None:
    if logprobs is None:
        return None
    return {"content": [lp.model_dump() for lp in logprobs], "refusal": None}


def _context(call: ChatCall, grounding: GroundingFound | None) -> dict[str, Any]:
    """Azure's ``message.context``, with the parts the data source's include_contexts asks for."""
    parts = call.data_source.include_contexts if call.data_source else DEFAULT_CONTEXTS
    context: dict[str, Any] = {}
    if "citations" in parts:
        context["citations"] = [c.model_dump() for c in grounding.citations] if grounding else []
    if "intent" in parts:
        context["intent"] = grounding.intent if grounding else ""
    if "all_retrieved_documents" in parts:
        retrieved = grounding.all_retrieved_documents if grounding else []
        context["all_retrieved_documents"] = [d.model_dump() for d in retrieved]
    return context


def _calls(call: ChatCall, text: str, index: int, reason: str | None) -> list[FunctionCall] | None:
    """The function calls in a choice's text, when the request required them and the text holds them."""
    if call.tools is None or not call.tools.guided or reason == "content_filter":
        return None
    return function_calls(text, call.tools, call.request_id, index)


def _message_calls(call: ChatCall, outcome: ChatOutcome, index: int) -> tuple[str | None, list[FunctionCall] | None]:
    """A choice's content and calls: the model's own calls (auto) beside its text, or the calls a
    required call's text holds (then no content)."""
    text, reason = outcome.texts[index], outcome.finish_reasons[index]
    if call.tools is not None and not call.tools.guided:
        return text or None, generated_calls(outcome.tool_calls[index], call.tools, call.request_id, index)
    calls = _calls(call, text, index, reason)
    return (None if calls else text), calls


def chat_completion(call: ChatCall, outcome: ChatOutcome) -> dict[str, Any]:
    choices = []
    for index in range(outcome.n):
        reason = outcome.finish_reasons[index]
        message: dict[str, Any] = {"role": "assistant", "content": outcome.texts[index], "refusal": None}
        content, calls = _message_calls(call, outcome, index)
        if calls:
            message.update(content=content, tool_calls=[c.body() for c in calls])
            reason = "tool_calls" if reason == "stop" else reason
        if call.data_source is not None:
            message["context"] = _context(call, outcome.grounding)
        choices.append({"index": index, "message": message, "finish_reason": reason,
                        "logprobs": logprobs_body(outcome.logprobs[index]),
                        "content_filter_results": outcome.choice_filter_results[index]})
    return {
        "id": f"chatcmpl-{call.request_id}",
        "object": "chat.completion",
        "created": int(call.created_at.timestamp()),
        "model": outcome.model,
        "choices": choices,
        "usage": usage_body(outcome.usage),
        "system_fingerprint": None,
        "prompt_filter_results": [p.model_dump() for p in outcome.prompt_filter_results],
    }


def _legacy_logprobs(logprobs: list[TokenLogprob] | None) -> dict[str, Any] | None:
    if logprobs is None:
        return None
    return {"tokens": [lp.token for lp in logprobs], "token_logprobs": [lp.logprob for lp in logprobs],
            "top_logprobs": [{t.token: t.logprob for t in lp.top_logprobs} for lp in logprobs],
            "text_offset": []}


def text_completion(call: ChatCall, outcome: ChatOutcome) -> dict[str, Any]:
    """The legacy ``text_completion`` body of /completions."""
    return {
        "id": f"cmpl-{call.request_id}", "object": "text_completion", "created": int(call.created_at.timestamp()),
        "model": outcome.model,
        "choices": [{"text": outcome.texts[i], "index": i, "finish_reason": outcome.finish_reasons[i],
                     "logprobs": _legacy_logprobs(outcome.logprobs[i]),
                     "content_filter_results": outcome.choice_filter_results[i]} for i in range(outcome.n)],
        "usage": usage_body(outcome.usage),
        "prompt_filter_results": [p.model_dump() for p in outcome.prompt_filter_results],
    }


class ChunkWriter:
    """Turns a request's replies into ``chat.completion.chunk`` server-sent events."""

    def __init__(self, call: ChatCall, *, include_usage: bool) -> None:
        self._call = call
        self._text = call.raw_prompt  # legacy /completions streams text_completion objects
        self._include_usage = include_usage
        self._role_sent: set[int] = set()
        self._finished: set[int] = set()
        self._model = call.deployment.model
        self._tool_text: dict[int, str] = {}  # text of a choice held until its function calls are complete

    def _chunk(self, choices: list[dict[str, Any]], **extra: Any) -> str:
        prefix, kind = ("cmpl", "text_completion") if self._text else ("chatcmpl", "chat.completion.chunk")
        body = {"id": f"{prefix}-{self._call.request_id}", "object": kind,
                "created": int(self._call.created_at.timestamp()), "model": self._model,
                "system_fingerprint": None, "choices": choices, **extra}
        return f"data: {json.dumps(body, separators=(',', ':'))}\n\n"

    def events(self, reply: Envelope) -> list[str]:
        if isinstance(reply, PromptScreened):
            return [self._chunk([], prompt_filter_results=[p.model_dump() for p in reply.prompt_filter_results])]
        if isinstance(reply, GroundingFound):
            delta: dict[str, Any] = {"role": "assistant", "context": _context(self._call, reply)}
            self._role_sent.add(0)
            return [self._chunk([{"index": 0, "delta": delta, "finish_reason": None}])]
        if not isinstance(reply, CompletionReady):
            return []
        self._model = reply.model
        choices = []
        for choice in reply.choices:
            if choice.index in self._finished:
                continue  # a finished (e.g. filtered) choice takes no more text
            if choice.finish_reason:
                self._finished.add(choice.index)
            if self._text:
                choices.append({"index": choice.index, "text": choice.text, "finish_reason": choice.finish_reason,
                                "logprobs": _legacy_logprobs(choice.logprobs),
                                "content_filter_results": choice.content_filter_results})
                continue
            if self._call.tools is not None and not self._call.tools.guided:
                delta, reason = self._auto_delta(choice)
            else:
                delta, reason = self._delta(choice.index, choice.text, choice.finish_reason)
            if choice.index not in self._role_sent:
                delta = {"role": "assistant", **delta}
                self._role_sent.add(choice.index)
            body = {"index": choice.index, "delta": delta, "finish_reason": reason,
                    "logprobs": logprobs_body(choice.logprobs), "content_filter_results": choice.content_filter_results}
            if choice.content_filter_offsets is not None:  # an asynchronous-filter annotation
                body["content_filter_offsets"] = choice.content_filter_offsets.model_dump()
            choices.append(body)
        events = [self._chunk(choices)] if choices else []
        if reply.final and self._include_usage and reply.usage:
            events.append(self._chunk([], usage=usage_body(reply.usage)))
        return events

    def _delta(self, index: int, text: str, reason: str | None) -> tuple[dict[str, Any], str | None]:
        """A content delta, or OpenAI's tool_calls deltas: a named function's arguments stream as
        they are generated; ``required`` calls go out whole once the choice's array is complete."""
        tools = self._call.tools
        if tools is None:
            return ({"content": text} if text else {}), reason
        seen = self._tool_text.get(index)
        self._tool_text[index] = (seen or "") + text
        if tools.mode == "function":
            calls: list[dict[str, Any]] = []
            if seen is None:
                calls.append({"index": 0, "id": call_id(self._call.request_id, index, 0), "type": "function",
                              "function": {"name": tools.function, "arguments": text}})
            elif text:
                calls.append({"index": 0, "function": {"arguments": text}})
            done = reason == "stop" and _calls(self._call, self._tool_text[index], index, reason)
            return ({"tool_calls": calls} if calls else {}), ("tool_calls" if done else reason)
        if reason is None:
            return {}, None
        found = _calls(self._call, self._tool_text[index], index, reason)
        if not found:
            return ({"content": self._tool_text[index]} if self._tool_text[index] else {}), reason
        return ({"tool_calls": [{"index": k, **c.body()} for k, c in enumerate(found)]},
                "tool_calls" if reason == "stop" else reason)

    def _auto_delta(self, choice: ReplyChoice) -> tuple[dict[str, Any], str | None]:
        """tool_choice auto: content as it comes; the model's calls, whole (the filter screened
        them), in the choice's last delta."""
        delta: dict[str, Any] = {"content": choice.text} if choice.text else {}
        assert self._call.tools is not None
        calls = generated_calls(choice.tool_calls, self._call.tools, self._call.request_id, choice.index)
        if not calls:
            return delta, choice.finish_reason
        delta["tool_calls"] = [{"index": k, **c.body()} for k, c in enumerate(calls)]
        return delta, "tool_calls" if choice.finish_reason == "stop" else choice.finish_reason

    @staticmethod
    def error(error: ApiError) -> str:
        return f"data: {json.dumps(error_body(error))}\n\n"

    DONE = "data: [DONE]\n\n"


def embeddings_list(reply: EmbeddingsReady, *, encoding_format: str) -> dict[str, Any]:
    def encode(vector: list[float]) -> list[float] | str:
        if encoding_format == "base64":  # little-endian float32, as OpenAI sends it
            return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        return vector

    return {"object": "list", "model": reply.model,
            "data": [{"object": "embedding", "index": i, "embedding": encode(v)}
                     for i, v in enumerate(reply.embeddings)],
            "usage": {"prompt_tokens": reply.prompt_tokens, "total_tokens": reply.prompt_tokens}}
