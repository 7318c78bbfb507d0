"""``tool_choice: auto`` with vLLM's tool parsers: the model's output split into content and calls.

A model configured for it (settings ``tool_calling``: the parser's name, and a chat template that
shows the tools) writes its calls in its own format (hermes: ``<tool_call>{"name": ...,
"arguments": {...}}</tool_call>``). While it generates, vLLM's streaming parser says which text is
content, so content goes out at once and nothing of a call (not even half a tag) is released as
content. When the choice ends, the whole output is parsed again (vLLM's ``extract_tool_calls``, as
its server does for an answer that is not streamed) and the calls go out whole: the filter screens
their arguments before anyone sees them. Output that holds no well-formed call to an offered
function is content, all of it (as vLLM answers).

vLLM's parsers are given the text only: the engines' steps carry no token IDs here, so a parser
that reads token IDs while streaming is not supported (hermes reads text).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from contracts.common import GeneratedToolCall, ToolDefinition

log = logging.getLogger("residency.inference.tool_calls")

MAX_CALLS = 128  # what a generated choice carries (contracts.generation_events)


def parser_class(name: str) -> Any:
    """vLLM's tool parser registered under ``name``; a name vLLM does not know fails at start."""
    from vllm.tool_parsers import ToolParserManager

    try:
        return ToolParserManager.get_tool_parser(name)
    except KeyError:
        raise ValueError(f"vLLM has no tool parser {name!r}") from None


class VllmToolCallParsers:
    """Per model, vLLM's tool parser; ``tokenizer_of`` gives the model's tokenizer (some parsers
    look up their markers in its vocabulary)."""

    def __init__(self, parsers: Mapping[str, str], tokenizer_of: Callable[[str], Any]) -> None:
        self._classes = {model: parser_class(name) for model, name in parsers.items()}
        self._tokenizer_of = tokenizer_of

    def reader(self, model: str, tools: list[ToolDefinition]) -> VllmToolCallReader | None:
        parser = self._classes.get(model)
        if parser is None:
            return None
        return VllmToolCallReader(parser, self._tokenizer_of(model), tools)


def vllm_request(tools: list[ToolDefinition]) -> Any:
    """The request object vLLM's parsers take: the offered functions, tool_choice auto."""
    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest

    return ChatCompletionRequest(messages=[], tool_choice="auto", tools=[
        {"type": "function", "function": {"name": t.name, "description": t.description,
                                          "parameters": json.loads(t.parameters)}} for t in tools])


class VllmToolCallReader:
    """One choice's output through one vLLM parser (parsers keep state: one per choice)."""

    def __init__(self, parser: Any, tokenizer: Any, tools: list[ToolDefinition]) -> None:
        self._parser = parser
        self._tokenizer = tokenizer
        self._request = vllm_request(tools)
        self._names = {t.name for t in tools}
        self._streaming = parser(tokenizer, self._request.tools)
        self._text = ""
        self._released = ""  # content returned by feed, a prefix of the choice's content

    def feed(self, text: str) -> str:
        if not text:
            return ""
        previous, self._text = self._text, self._text + text
        delta = self._streaming.extract_tool_calls_streaming(previous, self._text, text, [], [], [], self._request)
        content = (delta.content or "") if delta is not None else ""
        self._released += content
        return content

    def finish(self) -> tuple[str, list[GeneratedToolCall]]:
        found = self._parser(self._tokenizer, self._request.tools).extract_tool_calls(self._text, self._request)
        calls = self._calls(found.tool_calls) if found.tools_called else []
        content = (found.content or "") if calls else self._text
        if not content.startswith(self._released):
            # The streaming parser released text the whole parse reads otherwise; what went out
            # stays out, and only the calls follow.
            log.warning("tool parser %s: streamed content is not a prefix of the parsed content",
                        self._parser.__name__)
            return "", calls
        return content[len(self._released):], calls

    def _calls(self, parsed: list[Any]) -> list[GeneratedToolCall]:
        """The parsed calls, if every one names an offered function (else the output is content)."""
        if not 0 < len(parsed) <= MAX_CALLS or any(c.function.name not in self._names for c in parsed):
            return []
        return [GeneratedToolCall(name=c.function.name, arguments=c.function.arguments) for c in parsed]
