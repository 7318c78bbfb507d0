"""The gateway over HTTP, on fakes: what an OpenAI / Azure OpenAI client sees, and what reaches the bus."""

from __future__ import annotations

import json

import pytest

from contracts.common import ApiError
from contracts.generation_cancellations import CancelGeneration
from contracts.interaction_records import InteractionCompleted
from contracts.prompt_submissions import PromptSubmitted
from tests.unit.builders import MODEL, REGION
from tests.unit.gateway_fakes import ADMIN_KEY, SAFE, USAGE, answer_failed, answer_in_pieces, gateway, sha256_hex

VERSION = "api-version=2024-10-21"
AZURE = f"/openai/deployments/chat-prod/chat/completions?{VERSION}"
V1 = "/v1/chat/completions"
HELLO = {"messages": [{"role": "user", "content": "Say hello"}]}
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}


def post(h, path=AZURE, body=HELLO, key="contoso", headers=None):
    headers = headers if headers is not None else {} if key is None else {"api-key": h.keys.get(key, key)}
    if isinstance(body, bytes):
        return h.client.post(path, content=body, headers={"content-type": "application/json", **headers})
    return h.client.post(path, json=body, headers=headers)


def assert_error(response, status, code, param=None, type="invalid_request_error"):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["param"], error["code"]) == (type, param, code)
    assert error["message"]


def record_of(h) -> InteractionCompleted:
    [record] = h.bus.of_type(InteractionCompleted)
    return record


REJECTED = {
    "no key": (None, AZURE, HELLO, 401, "401", None),
    "wrong key": ("not-a-key", AZURE, HELLO, 401, "401", None),
    "no api-version": ("contoso", AZURE.partition("?")[0], HELLO, 400, "MissingApiVersionParameter", "api-version"),
    "unknown api-version": ("contoso", AZURE.replace("2024-10-21", "2031-01-01"), HELLO, 400,
                            "UnsupportedApiVersion", "api-version"),
    "v1 without model": ("contoso", V1, HELLO, 400, "invalid_request", "model"),
    "unknown deployment": ("contoso", AZURE.replace("chat-prod", "nope"), HELLO, 404, "DeploymentNotFound", None),
    "resource of another region": ("faraway", AZURE, HELLO, 404, "WrongRegion", None),
    "deployment of another resource": ("contoso", AZURE.replace("chat-prod", "fab-only"), HELLO, 404,
                                       "DeploymentNotFound", None),
    "model of another resource": ("contoso", V1, {**HELLO, "model": "fab-only"}, 404, "DeploymentNotFound", None),
    "malformed JSON": ("contoso", AZURE, b'{"messages": [', 400, "invalid_json", None),
    "JSON array": ("contoso", AZURE, b'[{"role": "user", "content": "hi"}]', 400, "invalid_json", None),
    "temperature 3": ("contoso", AZURE, {**HELLO, "temperature": 3}, 400, "invalid_request", "temperature"),
    "seed beyond int64": ("contoso", AZURE, {**HELLO, "seed": 2**64}, 400, "invalid_request", "seed"),
    "seed below int64": ("contoso", AZURE, {**HELLO, "seed": -(2**63) - 1}, 400, "invalid_request", "seed"),
    "deep array": ("contoso", AZURE, b"[" * 500 + b"]" * 500, 400, "invalid_json", None),
    "long integer": ("contoso", AZURE, b'{"seed": ' + b"9" * 900 + b"}", 400, "invalid_json", None),
    "NaN": ("contoso", AZURE, b'{"messages": [], "temperature": NaN}', 400, "invalid_json", None),
    "invalid role": ("contoso", AZURE,
                     {"messages": [{"role": "user", "content": "a"}, {"role": "wizard", "content": "b"}]}, 400,
                     "invalid_request", "messages.[1].role"),
    "too many messages": ("contoso", AZURE, {"messages": [{"role": "user", "content": "a"}] * 3}, 400,
                          "invalid_request", "messages"),
    "oversize body": ("contoso", AZURE, {"messages": [{"role": "user", "content": "x" * 2000}]}, 413,
                      "request_too_large", None),
    "image part": ("contoso", AZURE, {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": "https://x/cat.png"}}]}]},
        400, "invalid_request", "messages.[0].content.[1].type"),
}


@pytest.mark.parametrize(("key", "path", "body", "status", "code", "param"), REJECTED.values(), ids=REJECTED.keys())
def test_rejected_request_gets_openai_error_and_publishes_nothing(key, path, body, status, code, param):
    h = gateway(max_messages=2, max_body_bytes=1024)
    response = post(h, path, body, key)
    assert_error(response, status, code, param)
    assert response.headers["x-request-id"] == response.headers["apim-request-id"]
    assert h.bus.published == []


@pytest.mark.parametrize("style", ["api-key", "bearer"])
def test_either_key_header_authenticates_and_only_the_key_hash_is_looked_up(style):
    h = gateway()
    key = h.keys["contoso"]
    headers = {"api-key": key} if style == "api-key" else {"authorization": f"Bearer {key}"}
    assert post(h, headers=headers).status_code == 200
    assert h.directory.looked_up == [sha256_hex(key)]


def test_unknown_top_level_fields_are_accepted():
    h = gateway()
    response = post(h, body={**HELLO, "some_future_option": {"depth": 2}, "parallel_tool_calls": False})
    assert response.status_code == 200, response.text
    assert len(h.bus.of_type(PromptSubmitted)) == 1


def test_answer_has_the_chat_completion_shape_and_the_request_id():
    h = gateway()
    response = post(h, V1, {**HELLO, "model": "chat-prod"})
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    assert response.headers["apim-request-id"] == request_id
    body = response.json()
    assert (body["id"], body["object"], body["model"]) == (f"chatcmpl-{request_id}", "chat.completion", MODEL)
    assert body["choices"] == [{"index": 0, "message": {"role": "assistant", "content": "Hello 0", "refusal": None},
                                "finish_reason": "stop", "logprobs": None, "content_filter_results": SAFE}]
    assert body["usage"] == USAGE.model_dump(exclude_none=True)
    assert body["prompt_filter_results"] == [{"prompt_index": 0, "content_filter_results": SAFE}]
    [submission] = h.bus.of_type(PromptSubmitted)
    assert (submission.request_id, submission.deployment, submission.model) == (request_id, "chat-prod", MODEL)
    assert [m.content for m in submission.messages] == ["Say hello"]


def test_vllms_ignore_eos_extension_reaches_the_engine_and_is_off_by_default():
    h = gateway()
    post(h, body={**HELLO, "ignore_eos": True, "max_tokens": 64})
    post(h)
    assert [s.sampling.ignore_eos for s in h.bus.of_type(PromptSubmitted)] == [True, False]


def test_n_2_gives_two_choices():
    h = gateway()
    body = post(h, body={**HELLO, "n": 2}).json()
    assert [(c["index"], c["message"]["content"]) for c in body["choices"]] == [(0, "Hello 0"), (1, "Hello 1")]


@pytest.mark.parametrize(("resource", "logged"), [("contoso", True), ("quiet", False)])
def test_interaction_record_carries_content_only_when_content_logging_is_on(resource, logged):
    h = gateway()
    response = post(h, key=resource)
    record = record_of(h)
    assert (record.request_id, record.status, record.content_logging) == (response.headers["x-request-id"], 200, logged)
    assert record.finish_reasons == ["stop"] and record.usage == USAGE
    if logged:
        assert [m.content for m in record.messages] == ["Say hello"] and record.completions == ["Hello 0"]
    else:
        assert record.messages == [] and record.completions == []
        assert "Say hello" not in record.model_dump_json() and "Hello 0" not in record.model_dump_json()


def test_blocked_prompt_is_a_400_with_azure_innererror():
    verdict = {**SAFE, "violence": {"filtered": True, "severity": "high"}}
    inner = {"code": "ResponsibleAIPolicyViolation", "content_filter_result": verdict}
    h = gateway(answer_failed(ApiError(status=400, type=None, code="content_filter", param="prompt",
                                       message="The prompt was filtered.", innererror=inner)))
    response = post(h)
    assert response.status_code == 400
    assert response.json() == {"error": {"message": "The prompt was filtered.", "type": None, "param": "prompt",
                                         "code": "content_filter", "status": 400, "innererror": inner}}
    assert (record_of(h).status, record_of(h).error_code) == (400, "content_filter")


def test_stream_sends_annotations_role_content_usage_then_done():
    h = gateway(answer_in_pieces)
    response = post(h, body={**HELLO, "stream": True, "stream_options": {"include_usage": True}})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [e.removeprefix("data: ") for e in response.text.split("\n\n") if e]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert {(c["id"], c["object"]) for c in chunks} == {(f"chatcmpl-{response.headers['x-request-id']}",
                                                          "chat.completion.chunk")}
    assert chunks[0]["choices"] == [] and chunks[0]["prompt_filter_results"][0]["content_filter_results"] == SAFE
    content = [c["choices"][0] for c in chunks[1:-1]]
    assert [c["delta"] for c in content] == [{"role": "assistant", "content": "Hel"}, {"content": "lo"}]
    assert [c["finish_reason"] for c in content] == [None, "stop"]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == USAGE.model_dump(exclude_none=True)
    assert h.bus.of_type(PromptSubmitted)[0].stream is True
    assert record_of(h).completions == ["Hello"]


def test_no_answer_in_time_is_a_504_and_the_generation_is_cancelled():
    h = gateway(answer=None, reply_timeout_s=0.2)
    response = post(h)
    assert_error(response, 504, "timeout", type="timeout")
    [cancel] = h.bus.of_type(CancelGeneration)
    assert (cancel.request_id, cancel.reason) == (response.headers["x-request-id"], "timeout")


# --- admin API ---------------------------------------------------------------------------------

NEWCO = {"resource_id": "newco", "region": REGION, "deployments": [{"name": "chat-prod", "model": MODEL}]}


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer wrong"}, {"api-key": ADMIN_KEY},
                                     {"authorization": "Bearer key-of-contoso"}],
                         ids=["none", "wrong", "api-key", "tenant"])
def test_admin_api_needs_the_admin_bearer(headers):
    h = gateway()
    assert_error(h.admin.post("/admin/resources", json=NEWCO, headers=headers), 401, "401")
    assert_error(h.admin.get("/admin/resources/contoso", headers=headers), 401, "401")
    assert "newco" not in h.directory.resources


def test_created_keys_are_shown_once_and_both_work():
    h = gateway()
    created = h.admin.post("/admin/resources", json=NEWCO, headers=ADMIN)
    assert created.status_code == 201
    keys = created.json()["keys"]
    assert set(keys) == {"key1", "key2"} and keys["key1"] != keys["key2"]
    for key in keys.values():
        assert post(h, key=key).status_code == 200
    shown = h.admin.get("/admin/resources/newco", headers=ADMIN)
    assert shown.status_code == 200 and "keys" not in shown.json()
    for key in keys.values():
        assert key not in shown.text and sha256_hex(key) not in shown.text
    assert_error(h.admin.post("/admin/resources", json=NEWCO, headers=ADMIN), 409, "conflict")


def test_content_logging_off_shows_in_capabilities_and_in_the_records():
    h = gateway()
    changed = h.admin.patch("/admin/resources/contoso", json={"content_logging": False}, headers=ADMIN)
    off = [{"name": "ContentLogging", "value": "false"}]
    assert changed.status_code == 200 and changed.json()["capabilities"] == off
    assert h.admin.get("/admin/resources/contoso", headers=ADMIN).json()["capabilities"] == off
    post(h)
    assert record_of(h).messages == [] and record_of(h).completions == []


def test_regenerated_key2_replaces_the_old_key2_only():
    h = gateway()
    keys = h.admin.post("/admin/resources", json=NEWCO, headers=ADMIN).json()["keys"]
    regenerated = h.admin.post("/admin/resources/newco/keys/key2/regenerate", headers=ADMIN)
    new_key2 = regenerated.json()["key2"]
    assert regenerated.status_code == 200 and new_key2 != keys["key2"]
    assert_error(post(h, key=keys["key2"]), 401, "401")
    assert post(h, key=keys["key1"]).status_code == 200
    assert post(h, key=new_key2).status_code == 200


def test_deleted_resource_is_gone_and_its_keys_stop_working():
    h = gateway()
    assert h.admin.delete("/admin/resources/contoso", headers=ADMIN).status_code == 204
    assert_error(h.admin.get("/admin/resources/contoso", headers=ADMIN), 404, "ResourceNotFound")
    assert_error(h.admin.delete("/admin/resources/contoso", headers=ADMIN), 404, "ResourceNotFound")
    assert_error(post(h), 401, "401")


# Regression: http_admin.py (create_resource / update_resource) reads the body with request.json(), whose
# JSONDecodeError reaches the catch-all handler: a typo in an admin request is a 500, not a 400.
def test_admin_malformed_json_is_a_400_not_a_500():
    h = gateway()
    response = h.admin.post("/admin/resources", content=b'{"region": ', headers=ADMIN)
    assert response.status_code == 400, response.text


# Regression: http_admin.py update_resource builds the new Resource with model_copy(update=...), which does
# not validate: deployments stay plain dicts, and model_dump warns (PydanticSerializationUnexpectedValue).
# Under this project's warnings-as-errors policy, changing deployments is a 500.
def test_patching_deployments_makes_the_new_deployment_usable():
    h = gateway()
    deployments = [{"name": "chat-prod", "model": MODEL}, {"name": "chat-new", "model": MODEL}]
    changed = h.admin.patch("/admin/resources/contoso", json={"deployments": deployments}, headers=ADMIN)
    assert changed.status_code == 200, changed.text
    assert [{k: d[k] for k in ("name", "model")} for d in changed.json()["deployments"]] == deployments
    assert post(h, AZURE.replace("chat-prod", "chat-new")).status_code == 200


# app.py registers the catch-all with exception_handler(Exception), which Starlette runs in
# ServerErrorMiddleware, outside the request_ids middleware: a 500 names a request ID in its
# message but carries no x-request-id / apim-request-id header for the caller to quote.
def test_internal_error_still_carries_the_request_id_headers():
    async def store_down(key_hash):
        raise RuntimeError("control-plane store unreachable")

    h = gateway()
    h.directory.find_by_key_hash = store_down
    response = post(h)
    assert_error(response, 500, "internal_error", type="server_error")
    request_id = response.headers.get("x-request-id")
    assert request_id is not None and request_id in response.json()["error"]["message"]


def test_asynchronous_filter_annotations_reach_the_stream_with_azures_offsets():
    from contracts.gateway_replies import CompletionReady, ReplyChoice
    from tests.unit.gateway_fakes import screened

    violent = {**SAFE, "violence": {"filtered": True, "severity": "high"}}

    def answer(request):
        common = dict(**request.envelope(), model=MODEL)
        return [screened(request),
                CompletionReady(**common, sequence=0, final=False, choices=[ReplyChoice(index=0, text="Color is")]),
                CompletionReady(**common, sequence=1, final=False, choices=[ReplyChoice(
                    index=0, text="", content_filter_results=SAFE,
                    content_filter_offsets={"check_offset": 8, "start_offset": 0, "end_offset": 8})]),
                CompletionReady(**common, sequence=2, final=True, usage=USAGE, choices=[ReplyChoice(
                    index=0, text="", finish_reason="content_filter", content_filter_results=violent,
                    content_filter_offsets={"check_offset": 16, "start_offset": 8, "end_offset": 16})])]

    response = post(gateway(answer), body={**HELLO, "stream": True})
    chunks = [json.loads(e.removeprefix("data: ")) for e in response.text.split("\n\n") if e and "[DONE]" not in e]
    annotations = [c["choices"][0] for c in chunks if c["choices"] and "content_filter_offsets" in c["choices"][0]]
    # Azure's annotation message: {"index", "finish_reason", "content_filter_results", "content_filter_offsets"}
    assert len(annotations) == 2
    for choice in annotations:
        assert {"index", "finish_reason", "content_filter_results", "content_filter_offsets"} <= set(choice)
        assert set(choice["content_filter_offsets"]) == {"check_offset", "start_offset", "end_offset"}
        assert choice.get("delta", {}) == {}  # annotations carry no new text
    assert annotations[0]["content_filter_offsets"] == {"check_offset": 8, "start_offset": 0, "end_offset": 8}
    assert (annotations[1]["finish_reason"], annotations[1]["content_filter_results"]) == ("content_filter", violent)
    text_chunks = [c["choices"][0] for c in chunks if c["choices"] and "content_filter_offsets" not in c["choices"][0]]
    assert "content_filter_offsets" not in text_chunks[0] and text_chunks[0]["delta"]["content"] == "Color is"


def test_a_resource_created_without_limits_gets_the_default_limits_and_empty_limits_means_none():
    h = gateway(default_limits={"rpm": 7, "tpm": 7000})
    created = h.admin.post("/admin/resources", json=NEWCO, headers=ADMIN).json()
    assert created["limits"] == {"rpm": 7, "tpm": 7000}
    unlimited = h.admin.post("/admin/resources", json={**NEWCO, "resource_id": "free", "limits": {}}, headers=ADMIN)
    assert unlimited.json()["limits"] == {"rpm": None, "tpm": None}


def test_n_and_a_missing_max_tokens_are_charged_against_the_token_limit():
    h = gateway()
    resource = h.directory.resources["contoso"]
    h.directory.resources["contoso"] = type(resource).model_validate({
        **resource.model_dump(), "limits": {"tpm": 3000},
        "deployments": [{**resource.deployments[0].model_dump(), "context_length": 1000}]})
    assert post(h, body={**HELLO, "max_tokens": 100, "n": 4}).status_code == 200
    over = post(h, body={**HELLO, "max_tokens": 900, "n": 4})
    assert_error(over, 429, "rate_limit_exceeded", type="rate_limit_error")
    assert_error(post(h, body={**HELLO, "n": 4}), 429, "rate_limit_exceeded", type="rate_limit_error")
    assert post(h, body={**HELLO, "n": 1}).status_code == 200


def test_the_admin_api_is_not_served_on_the_public_listener():
    h = gateway()
    assert_error(h.client.post("/admin/resources", json=NEWCO, headers=ADMIN), 404, "404")
    assert_error(h.client.get("/admin/resources/contoso", headers=ADMIN), 404, "404")
    assert h.admin.get("/admin/resources/contoso", headers=ADMIN).status_code == 200
    assert_error(h.admin.post(AZURE, json=HELLO, headers={"api-key": h.keys["contoso"]}), 404, "404")


def test_the_admin_api_has_its_own_body_limit():
    h = gateway(admin_max_body_bytes=2048)
    big = {**NEWCO, "deployments": [{"name": f"d{i}", "model": MODEL} for i in range(100)]}
    assert_error(h.admin.post("/admin/resources", json=big, headers=ADMIN), 413, "request_too_large")
    assert "newco" not in h.directory.resources


@pytest.mark.parametrize("key", ["", "short", " " + "k" * 40, "k" * 31])
def test_the_gateway_refuses_an_admin_key_under_32_characters(key):
    from pydantic import ValidationError

    from services.gateway.settings import GatewaySettings

    with pytest.raises(ValidationError, match="at least 32 characters"):
        GatewaySettings(admin_key=key)


def test_an_empty_bearer_is_not_the_admin():
    h = gateway()
    assert_error(h.admin.get("/admin/resources/contoso", headers={"authorization": "Bearer "}), 401, "401")


async def test_the_listener_a_connection_arrived_on_chooses_the_app():
    from services.gateway.app import by_listener

    h = gateway()
    route = by_listener(h.client.app, admin_port=8090)
    seen = []

    async def send(message):
        if message["type"] == "http.response.start":
            seen.append(message["status"])

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    for port in (8080, 8090):
        scope = {"type": "http", "method": "GET", "path": "/admin/resources/contoso",
                 "raw_path": b"/admin/resources/contoso",
                 "query_string": b"", "headers": [(b"authorization", f"Bearer {ADMIN_KEY}".encode())],
                 "server": ("127.0.0.1", port), "client": ("127.0.0.1", 50000), "scheme": "http",
                 "http_version": "1.1", "root_path": "", "asgi": {"version": "3.0"}}
        await route(scope, receive, send)
    assert seen == [404, 200]


def test_ignored_field_names_are_logged_capped_and_escaped(caplog):
    h = gateway()
    forged = "a\n2026-01-01 gateway ERROR residency: forged line"
    body = {**HELLO, forged: 1, **{f"field_{i:05d}_" + "n" * 100: i for i in range(500)}}
    with caplog.at_level("INFO", logger="residency.gateway.edge"):
        assert post(h, body=body).status_code == 200
    [record] = [r for r in caplog.records if r.name == "residency.gateway.edge"]
    line = record.getMessage()
    assert "\n" not in line and "\\n2026-01-01" in line
    assert "501 request field(s)" in line and "and 491 more" in line
    assert len(line) < 1000 and "n" * 41 not in line


def test_cached_prompt_tokens_reach_the_caller_as_openais_prompt_tokens_details():
    from tests.unit.gateway_fakes import completion, screened

    cached = USAGE.model_copy(update={"cached_prompt_tokens": 8})
    body = post(gateway(lambda request: [screened(request), completion(request, "Hi", usage=cached)])).json()
    assert body["usage"] == {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13,
                             "prompt_tokens_details": {"cached_tokens": 8}}
