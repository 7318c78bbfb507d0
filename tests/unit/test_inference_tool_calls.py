"""tool_choice auto in inference: fixed model outputs through vLLM's hermes tool parser (the real
parser, fed as an engine would feed it) into content and whole function calls, streamed and not;
a model without a parser refuses auto with a 400."""

from __future__ import annotations

import json
import warnings
from collections.abc import AsyncIterator

import pytest
from pydantic import ValidationError

from contracts.common import ToolDefinition
from contracts.generation_requests import GenerateCompletion
from services.inference.adapters.echo_engine import EchoEngine, WordTokenizer
from services.inference.adapters.vllm_tool_calls import VllmToolCallParsers
from services.inference.handlers import InferencePorts, StreamPolicy, generate_completion
from services.inference.ports import ChoiceDelta, EngineStep
from services.inference.settings import InferenceSettings
from tests.unit.builders import MODEL, Recorder, chat, envelope, sampling

WEATHER = ToolDefinition(name="get_weather", description="Current weather in a city.", parameters=json.dumps(
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}))
TIME = ToolDefinition(name="get_time", parameters=json.dumps({"type": "object", "properties": {}}))
CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
TWO_CALLS = CALL + '\n<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>'


@pytest.fixture(scope="module")
def parsers() -> VllmToolCallParsers:
    with warnings.catch_warnings():  # importing vLLM imports torch, whose deprecation warnings are not ours
        warnings.simplefilter("ignore", DeprecationWarning)
        return VllmToolCallParsers({MODEL: "hermes"}, lambda model: WordTokenizer())


def pieces(text: str, size: int = 5) -> list[str]:
    """The output as an engine streams it: a few characters at a time (tags cut anywhere)."""
    return [text[i:i + size] for i in range(0, len(text), size)]


def read(parsers: VllmToolCallParsers, output: str) -> tuple[list[str], str, list[tuple[str, dict]]]:
    reader = parsers.reader(MODEL, [WEATHER, TIME])
    assert reader is not None
    released = [reader.feed(piece) for piece in pieces(output)]
    rest, calls = reader.finish()
    return released, "".join(released) + rest, [(c.name, json.loads(c.arguments)) for c in calls]


def test_a_hermes_call_becomes_a_call_and_the_text_before_it_content(parsers):
    released, content, calls = read(parsers, f"Let me look that up. {CALL}")
    assert calls == [("get_weather", {"city": "Paris"})]
    assert content == "Let me look that up. "
    assert "<" not in "".join(released)  # not even the start of a tag went out as content


def test_parallel_calls_come_whole_and_in_order(parsers):
    _, content, calls = read(parsers, TWO_CALLS)
    assert calls == [("get_weather", {"city": "Paris"}), ("get_time", {})] and content == ""


def test_text_without_a_call_is_content_as_it_is_generated(parsers):
    output = "Paris is sunny today, at 21 degrees."
    released, content, calls = read(parsers, output)
    assert calls == [] and content == output
    assert "".join(released).startswith("Paris is sunny today")  # streamed, not held to the end


@pytest.mark.parametrize("output", [
    CALL[:40],  # cut by max_tokens inside the call
    '<tool_call>\n{"name": "delete_everything", "arguments": {}}\n</tool_call>',  # not an offered function
    "<tool_call>\nnot json\n</tool_call>",
])
def test_an_output_without_a_well_formed_call_to_an_offered_function_is_all_content(parsers, output):
    _, content, calls = read(parsers, output)
    assert calls == [] and content == output


def test_a_model_without_a_parser_has_no_reader(parsers):
    assert parsers.reader("another-model", [WEATHER]) is None


def test_a_parser_vllm_does_not_know_fails_at_start(parsers):
    with pytest.raises(ValueError, match="no tool parser 'hermes2'"):
        VllmToolCallParsers({MODEL: "hermes2"}, lambda model: WordTokenizer())


def test_tool_calling_is_configured_for_served_models_only(monkeypatch):
    monkeypatch.delenv("RESIDENCY_INFERENCE_ECHO_MODELS", raising=False)
    with pytest.raises(ValidationError, match="does not serve"):
        InferenceSettings(chat_models={}, echo_models=["echo"], tool_calling={"other": {"parser": "hermes"}})
    settings = InferenceSettings(chat_models={}, echo_models=["echo"], tool_calling={"echo": {"parser": "hermes"}})
    assert settings.tool_calling["echo"].parser == "hermes" and settings.tool_calling["echo"].chat_template is None


class ScriptedEngine:
    """Generates a fixed output for every choice, a few characters per step, as a model would."""

    tokenizer = WordTokenizer()

    def __init__(self, output: str) -> None:
        self.output = output

    def serves(self, model: str) -> bool:
        return model == MODEL

    async def generate(self, request: GenerateCompletion) -> AsyncIterator[EngineStep]:
        steps = pieces(self.output)
        for position, piece in enumerate(steps):
            reason = "stop" if position == len(steps) - 1 else None
            yield EngineStep(tuple(ChoiceDelta(i, piece, reason) for i in range(request.sampling.n)), 10, position + 1)

    async def abort(self, request_id: str) -> bool:
        return False


def auto(*, stream: bool, n: int = 1) -> GenerateCompletion:
    return GenerateCompletion(**envelope(), model=MODEL, messages=chat(("user", "Weather in Paris?")),
                              sampling=sampling(n=n), stream=stream, tools=[WEATHER, TIME], tool_choice="auto")


@pytest.mark.parametrize("stream", [False, True])
async def test_generated_calls_reach_the_filter_whole_on_the_last_event(parsers, stream):
    events = Recorder("generation-events")
    ports = InferencePorts(engine=ScriptedEngine(f"Checking. {TWO_CALLS}"), events=events,
                           stream=StreamPolicy(tokens=1, window_s=0.0), tool_calls=parsers)
    await generate_completion(auto(stream=stream, n=2), ports)

    *chunks, final = events.published
    assert final.final and final.error is None and bool(chunks) == stream  # content streamed at once
    assert all(not c.tool_calls for chunk in chunks for c in chunk.choices)
    for index in (0, 1):
        text = "".join(c.text for e in events.published for c in e.choices if c.index == index)
        [last] = [c for c in final.choices if c.index == index]
        assert text == "Checking. " and last.finish_reason == "stop"
        assert [(c.name, json.loads(c.arguments)) for c in last.tool_calls] == [
            ("get_weather", {"city": "Paris"}), ("get_time", {})]


async def test_without_tool_choice_auto_the_output_is_left_as_it_is(parsers):
    events = Recorder("generation-events")
    ports = InferencePorts(engine=ScriptedEngine(CALL), events=events, tool_calls=parsers)
    command = auto(stream=False).model_copy(update={"tool_choice": "required"})
    await generate_completion(command, ports)
    [final] = events.published
    assert final.choices[0].text == CALL and final.choices[0].tool_calls == []


@pytest.mark.parametrize("tool_calls", [None, "parsers"])
async def test_auto_on_a_model_without_a_tool_parser_is_a_400_naming_tool_choice(parsers, tool_calls):
    events = Recorder("generation-events")
    ports = InferencePorts(engine=EchoEngine([MODEL, "plain"]), events=events,
                           tool_calls=parsers if tool_calls else None)
    await generate_completion(auto(stream=True).model_copy(update={"model": "plain"}), ports)
    [refusal] = events.published
    assert refusal.final and refusal.choices == [] and refusal.error is not None
    assert (refusal.error.status, refusal.error.code, refusal.error.param) == (400, "unsupported_tool_choice",
                                                                               "tool_choice")
    assert "'plain'" in refusal.error.message
