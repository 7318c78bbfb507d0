"""Tool calling and structured outputs at the gateway, on fakes: what reaches the bus (schemas for
guided decoding, the functions shown to the model), and the answers' tool_calls, whole and streamed."""

from __future__ import annotations

import json

import pytest

from contracts.common import ApiError, GeneratedToolCall
from contracts.gateway_replies import RequestFailed
from contracts.prompt_submissions import PromptSubmitted
from services.gateway.tool_calls import MAX_PARALLEL_CALLS
from tests.unit.gateway_fakes import completion, gateway, screened
from tests.unit.test_gateway_http import AZURE, HELLO, assert_error, post, record_of

WEATHER_PARAMETERS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city.",
                                            "parameters": WEATHER_PARAMETERS}}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {
    "type": "object", "properties": {"zone": {"$ref": "#/$defs/Zone"}}, "$defs": {"Zone": {"type": "string"}}}}}
NAMED = {"type": "function", "function": {"name": "get_weather"}}


def answering(*pieces: tuple[str, str | None]):
    """Replies with the given (text, finish_reason) pieces, the last one final."""
    def answer(request):
        return [screened(request), *(completion(request, text, sequence=i, final=i == len(pieces) - 1,
                                                finish_reason=reason) for i, (text, reason) in enumerate(pieces))]
    return answer


def events(response) -> list[dict]:
    return [json.loads(e.removeprefix("data: ")) for e in response.text.split("\n\n") if e and "[DONE]" not in e]


def test_a_named_function_is_decoded_against_its_parameters_and_answered_as_a_tool_call():
    h = gateway(answering(('{"city": "Paris"}', "stop")))
    body = post(h, body={**HELLO, "tools": [TIME, WEATHER], "tool_choice": NAMED}).json()
    [submission] = h.bus.of_type(PromptSubmitted)
    assert json.loads(submission.sampling.json_schema) == WEATHER_PARAMETERS
    assert [t.name for t in submission.tools] == ["get_weather"]  # only the named function is shown
    [choice] = body["choices"]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert record_of(h).completions == ['{"city": "Paris"}']  # retained like any completion


def test_required_decodes_an_array_of_calls_with_each_functions_defs_hoisted():
    calls = '[{"name":"get_time","arguments":{"zone":"CET"}},{"name":"get_weather","arguments":{"city":"Oslo"}}]'
    h = gateway(answering((calls, "stop")))
    body = post(h, body={**HELLO, "tools": [WEATHER, TIME], "tool_choice": "required"}).json()
    schema = json.loads(h.bus.of_type(PromptSubmitted)[0].sampling.json_schema)
    assert schema["maxItems"] == MAX_PARALLEL_CALLS and schema["minItems"] == 1
    time_branch = schema["items"]["anyOf"][1]
    assert time_branch["properties"]["name"] == {"const": "get_time"}
    assert time_branch["properties"]["arguments"]["properties"]["zone"] == {"$ref": "#/$defs/get_time.Zone"}
    assert schema["$defs"] == {"get_time.Zone": {"type": "string"}}
    calls = body["choices"][0]["message"]["tool_calls"]
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls] == [
        ("get_time", {"zone": "CET"}), ("get_weather", {"city": "Oslo"})]
    assert len({c["id"] for c in calls}) == 2


def test_parallel_tool_calls_false_allows_one_call():
    h = gateway(answering(('[{"name":"get_weather","arguments":{"city":"Oslo"}}]', "stop")))
    post(h, body={**HELLO, "tools": [WEATHER], "tool_choice": "required", "parallel_tool_calls": False})
    assert json.loads(h.bus.of_type(PromptSubmitted)[0].sampling.json_schema)["maxItems"] == 1


def test_a_call_cut_by_max_tokens_comes_back_as_text_with_finish_reason_length():
    h = gateway(answering(('[{"name":"get_weather","argum', "length")))
    choice = post(h, body={**HELLO, "tools": [WEATHER], "tool_choice": "required"}).json()["choices"][0]
    assert choice["finish_reason"] == "length" and "tool_calls" not in choice["message"]
    assert choice["message"]["content"] == '[{"name":"get_weather","argum'


def test_a_streamed_named_call_streams_its_arguments_in_openais_shape():
    h = gateway(answering(('{"city"', None), (': "Rome"}', "stop")))
    response = post(h, body={**HELLO, "tools": [WEATHER], "tool_choice": NAMED, "stream": True})
    deltas = [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in events(response)[1:]]
    first, second = deltas
    [opening] = first[0]["tool_calls"]
    assert first[0]["role"] == "assistant" and opening["id"].startswith("call_") and opening["index"] == 0
    assert opening["function"] == {"name": "get_weather", "arguments": '{"city"'} and first[1] is None
    assert second == ({"tool_calls": [{"index": 0, "function": {"arguments": ': "Rome"}'}}]}, "tool_calls")


def test_streamed_required_calls_go_out_whole_when_the_array_is_complete():
    h = gateway(answering(('[{"name":"get_weather",', None), ('"arguments":{"city":"Oslo"}}]', "stop")))
    response = post(h, body={**HELLO, "tools": [WEATHER], "tool_choice": "required", "stream": True})
    deltas = [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in events(response)[1:]]
    assert deltas[0] == ({"role": "assistant"}, None)
    [call] = deltas[1][0]["tool_calls"]
    assert call["index"] == 0 and call["function"] == {"name": "get_weather", "arguments": '{"city": "Oslo"}'}
    assert deltas[1][1] == "tool_calls"


def test_history_with_tool_calls_and_results_reaches_the_bus():
    history = [{"role": "user", "content": "Weather in Oslo?"},
               {"role": "assistant", "content": None, "tool_calls": [
                   {"id": "call_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}]},
               {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]
    h = gateway(max_messages=8)
    assert post(h, body={"messages": history, "tools": [WEATHER], "tool_choice": "none"}).status_code == 200
    [submission] = h.bus.of_type(PromptSubmitted)
    assert submission.messages[1].tool_calls[0].arguments == '{"city":"Oslo"}'
    assert submission.messages[2].tool_call_id == "call_1" and submission.tools == []
    assert submission.sampling.json_schema is None


def test_response_format_json_schema_travels_as_the_guided_schema():
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}, "required": ["n"]}
    h = gateway()
    post(h, body={**HELLO, "response_format": {"type": "json_schema",
                                               "json_schema": {"name": "count", "schema": schema, "strict": True}}})
    sampling = h.bus.of_type(PromptSubmitted)[0].sampling
    assert sampling.response_format == "json_schema" and json.loads(sampling.json_schema) == schema


def answering_calls(text: str, *calls: tuple[str, str], stream: bool = False):
    """tool_choice auto: the model's content, then (on the choice's last reply) the calls its tool
    parser found, screened by the filter."""
    def answer(request):
        last = completion(request, "" if stream else text, sequence=1 if stream else 0)
        choice = last.choices[0].model_copy(update={"tool_calls": [
            GeneratedToolCall(name=name, arguments=arguments) for name, arguments in calls]})
        leading = [completion(request, text, final=False, finish_reason=None)] if stream else []
        return [screened(request), *leading, last.model_copy(update={"choices": [choice]})]
    return answer


@pytest.mark.parametrize("choice", [{}, {"tool_choice": "auto"}], ids=["auto by default", "auto"])
def test_auto_goes_to_inference_unguided_and_the_models_calls_come_back_beside_its_text(choice):
    h = gateway(answering_calls("Let me check.", ("get_weather", '{"city": "Oslo"}'), ("get_time", '{"zone": "CET"}')))
    body = post(h, body={**HELLO, "tools": [WEATHER, TIME], **choice}).json()
    [submission] = h.bus.of_type(PromptSubmitted)
    assert submission.tool_choice == "auto" and [t.name for t in submission.tools] == ["get_weather", "get_time"]
    assert submission.sampling.json_schema is None and submission.sampling.response_format == "text"
    [answer] = body["choices"]
    assert answer["finish_reason"] == "tool_calls" and answer["message"]["content"] == "Let me check."
    calls = answer["message"]["tool_calls"]
    assert [(c["type"], c["function"]["name"], c["function"]["arguments"]) for c in calls] == [
        ("function", "get_weather", '{"city": "Oslo"}'), ("function", "get_time", '{"zone": "CET"}')]
    assert all(c["id"].startswith("call_") for c in calls) and len({c["id"] for c in calls}) == 2
    [retained] = record_of(h).completions  # the calls are content: retained with the text
    assert retained.startswith("Let me check.") and json.loads(retained.removeprefix("Let me check.")) == [
        {"name": "get_weather", "arguments": '{"city": "Oslo"}'}, {"name": "get_time", "arguments": '{"zone": "CET"}'}]


def test_auto_without_a_call_is_a_plain_answer_and_parallel_false_keeps_the_first_call():
    plain = post(gateway(answering_calls("Sunny.")), body={**HELLO, "tools": [WEATHER]}).json()["choices"][0]
    assert plain["finish_reason"] == "stop" and plain["message"]["content"] == "Sunny."
    assert "tool_calls" not in plain["message"]
    h = gateway(answering_calls("", ("get_weather", '{"city": "Oslo"}'), ("get_time", '{"zone": "CET"}')))
    one = post(h, body={**HELLO, "tools": [WEATHER, TIME], "parallel_tool_calls": False}).json()["choices"][0]
    assert one["message"]["content"] is None
    assert [c["function"]["name"] for c in one["message"]["tool_calls"]] == ["get_weather"]


def test_auto_takes_parameters_outside_the_guided_subset():
    loose = {"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"a": {"oneOf": [{"type": "string"}, {"type": "integer"}]}}}}}
    h = gateway(answering_calls("ok"))
    assert post(h, body={**HELLO, "tools": [loose]}).status_code == 200


def test_streamed_auto_streams_the_content_then_the_calls_whole_in_openais_shape():
    h = gateway(answering_calls("Checking.", ("get_weather", '{"city": "Oslo"}'), stream=True))
    response = post(h, body={**HELLO, "tools": [WEATHER], "stream": True})
    deltas = [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in events(response)[1:]]
    assert deltas[0] == ({"role": "assistant", "content": "Checking."}, None)
    [call] = deltas[1][0]["tool_calls"]
    assert call["index"] == 0 and call["id"].startswith("call_") and call["type"] == "function"
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Oslo"}'}
    assert deltas[1][1] == "tool_calls"


@pytest.mark.parametrize("stream", [False, True])
def test_auto_refused_by_the_engine_is_a_400_in_openais_shape_streamed_or_not(stream):
    refusal = ApiError(status=400, type="invalid_request_error", code="unsupported_tool_choice", param="tool_choice",
                       message="tool_choice 'auto' is not supported by the model 'm': it has no tool parser.")
    h = gateway(lambda request: [screened(request), RequestFailed(**request.envelope(), error=refusal)])
    response = post(h, AZURE, {**HELLO, "tools": [WEATHER], "stream": stream})
    assert_error(response, 400, "unsupported_tool_choice", "tool_choice")


REFUSED = {
    "choice without tools": ({"tool_choice": "required"}, "invalid_request", "tool_choice"),
    "unknown named function": ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "x"}}},
                               "invalid_request", "tool_choice"),
    "duplicate names": ({"tools": [WEATHER, WEATHER], "tool_choice": "required"}, "invalid_request", "tools"),
    "tool schema keyword": ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "patternProperties": {}}}}], "tool_choice": "required"},
        "invalid_json_schema", "tools.[0].function.parameters"),
    "response schema keyword": ({"response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"type": "object", "properties": {"a": {"allOf": []}}}}}},
        "invalid_json_schema", "response_format.json_schema.schema"),
    "json_schema without schema object": ({"response_format": {"type": "json_schema"}}, "invalid_request",
                                          "response_format.json_schema"),
    "remote $ref": ({"response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"$ref": "https://example.com/s.json"}}}}, "invalid_json_schema",
        "response_format.json_schema.schema"),
    "type of the wrong kind": ({"response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"type": [{}], "format": {}}}}}, "invalid_json_schema",
        "response_format.json_schema.schema"),
    "required not names": ({"response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"type": "object", "required": [1]}}}}, "invalid_json_schema",
        "response_format.json_schema.schema"),
    "parameters not an object": ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "string"}}}], "tool_choice": "required"}, "invalid_json_schema", "tools.[0].function.parameters"),
    "tool message without call id": ({"messages": [{"role": "tool", "content": "x"}]}, "invalid_request",
                                     "messages.[0].tool_call_id"),
}


@pytest.mark.parametrize(("extra", "code", "param"), REFUSED.values(), ids=REFUSED.keys())
def test_unsupported_tool_and_schema_requests_are_a_400_naming_the_field(extra, code, param):
    h = gateway()
    assert_error(post(h, AZURE, {**HELLO, **extra}), 400, code, param)
    assert h.bus.of_type(PromptSubmitted) == []


def test_the_refusal_of_a_schema_keyword_names_it():
    h = gateway()
    body = {**HELLO, "response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"type": "array", "items": {"type": "integer", "multipleOf": 2}}}}}
    assert "'multipleOf' at /items" in post(h, body=body).json()["error"]["message"]
