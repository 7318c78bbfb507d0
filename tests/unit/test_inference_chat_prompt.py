"""Chat messages as the template takes them: function calls, tool results and offered functions as text."""

from __future__ import annotations

import json

from contracts.common import ChatMessage, SamplingParams, ToolCall, ToolDefinition
from contracts.generation_requests import GenerateCompletion
from services.inference.adapters.vllm_chat import structured_outputs
from services.inference.chat_prompt import template_messages
from tests.unit.builders import MODEL, envelope

WEATHER = ToolDefinition(name="get_weather", description="Weather in a city.",
                         parameters='{"type": "object", "properties": {"city": {"type": "string"}}}')


def test_calls_results_and_offered_functions_become_text_the_template_can_render():
    messages = [ChatMessage(role="developer", content="Be brief."), ChatMessage(role="user", content="Oslo?"),
                ChatMessage(role="assistant", content="", tool_calls=[
                    ToolCall(id="call_1", name="get_weather", arguments='{"city":"Oslo"}')]),
                ChatMessage(role="tool", content="sunny", tool_call_id="call_1")]
    rendered = template_messages(messages, [WEATHER])
    assert [m["role"] for m in rendered] == ["system", "user", "assistant", "tool"]
    assert rendered[0]["content"].startswith("Be brief.\n\n") and '"name": "get_weather"' in rendered[0]["content"]
    assert json.loads(rendered[2]["content"]) == [{"name": "get_weather", "arguments": {"city": "Oslo"}}]
    assert rendered[3]["content"] == "sunny"


def test_offered_functions_open_the_conversation_when_there_is_no_system_message():
    rendered = template_messages([ChatMessage(role="user", content="Oslo?")], [WEATHER])
    assert [m["role"] for m in rendered] == ["system", "user"] and "Weather in a city." in rendered[0]["content"]
    assert template_messages([ChatMessage(role="user", content="Oslo?")], []) == [{"role": "user", "content": "Oslo?"}]


class Params:
    def __init__(self, **fields: object) -> None:
        self.fields = fields


def test_a_schema_is_guided_without_free_whitespace_and_json_object_stays_any_object():
    def request(**sampling: object) -> GenerateCompletion:
        return GenerateCompletion(**envelope(), model=MODEL, messages=[ChatMessage(role="user", content="x")],
                                  sampling=SamplingParams(**sampling))
    guided = structured_outputs(request(response_format="json_schema", json_schema='{"type": "object"}'), Params)
    assert guided.fields == {"json": {"type": "object"}, "disable_any_whitespace": True}
    assert structured_outputs(request(response_format="json_object"), Params).fields == {"json_object": True}
    assert structured_outputs(request(), Params) is None


def test_the_hermes_tool_template_shows_the_tools_and_renders_calls_and_results_as_the_parser_reads_them():
    from pathlib import Path

    from transformers.utils.chat_template_utils import render_jinja_template

    from services.inference.chat_prompt import native_messages, tool_specs

    template = (Path(__file__).parents[2] / "services/inference/chat_templates/chatml_hermes_tools.jinja").read_text()
    messages = [ChatMessage(role="user", content="Oslo?"),
                ChatMessage(role="assistant", content="", tool_calls=[
                    ToolCall(id="call_1", name="get_weather", arguments='{"city":"Oslo"}')]),
                ChatMessage(role="tool", content="sunny", tool_call_id="call_1")]
    [rendered], _ = render_jinja_template([native_messages(messages)], tools=tool_specs([WEATHER]),
                                          chat_template=template, add_generation_prompt=True)
    tools = rendered.split("<tools>\n", 1)[1].split("\n</tools>", 1)[0]
    assert json.loads(tools)["function"]["name"] == "get_weather"
    assert ('<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n'
            "</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\nsunny\n</tool_response><|im_end|>\n"
            "<|im_start|>assistant\n") in rendered
    # Without tools, what SmolLM2's own template renders.
    [plain], _ = render_jinja_template([[{"role": "user", "content": "Hi"}]], chat_template=template,
                                       add_generation_prompt=True)
    assert plain == ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
                     "<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")


class RecordingTokenizer:
    def __init__(self) -> None:
        self.calls: list[tuple[list, dict]] = []

    def apply_chat_template(self, messages, **options):
        self.calls.append((messages, options))
        return [1, 2, 3]


def test_auto_renders_the_tools_with_the_models_tool_template_and_required_calls_as_text(tmp_path):
    from services.inference.adapters.vllm_chat import VllmChatEngine
    from services.inference.settings import EngineOptions

    engine = VllmChatEngine(MODEL, "unused", EngineOptions(), adapter_dir=tmp_path, work_dir=tmp_path,
                            tool_template="{{ tools }}")
    engine._tokenizer = tokenizer = RecordingTokenizer()
    history = [ChatMessage(role="user", content="Oslo?"),
               ChatMessage(role="assistant", content="", tool_calls=[
                   ToolCall(id="call_1", name="get_weather", arguments='{"city":"Oslo"}')]),
               ChatMessage(role="tool", content="sunny", tool_call_id="call_1")]
    for choice in ("auto", "required"):
        engine.prompt_token_ids(GenerateCompletion(**envelope(), model=MODEL, messages=history,
                                                   sampling=SamplingParams(), tools=[WEATHER], tool_choice=choice))
    (auto_messages, auto_options), (required_messages, required_options) = tokenizer.calls
    assert auto_options["chat_template"] == "{{ tools }}"
    assert auto_options["tools"][0]["function"]["parameters"] == json.loads(WEATHER.parameters)
    assert auto_messages[1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": {"city": "Oslo"}}
    assert auto_messages[2] == {"role": "tool", "content": "sunny", "tool_call_id": "call_1"}
    assert "tools" not in required_options and "chat_template" not in required_options
    assert required_messages[0]["role"] == "system" and "get_weather" in required_messages[0]["content"]
