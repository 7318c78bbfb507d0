"""Stored completions at the gateway, on fakes: what ``store: true`` hands to retention, and the
stored-completions routes as questions over the bus, on both path styles."""

from __future__ import annotations

import json

import pytest

from contracts.common import ApiError
from contracts.gateway_replies import RequestFailed, StoredCompletionsFound
from contracts.interaction_records import InteractionCompleted
from contracts.stored_completion_requests import StoredCompletionsRequested
from tests.unit.gateway_fakes import gateway
from tests.unit.test_gateway_http import AZURE, HELLO, VERSION, assert_error, post, record_of

COMPLETION = {"id": "chatcmpl-1", "object": "chat.completion", "metadata": {"app": "x"}, "choices": []}


def retention(request: StoredCompletionsRequested):
    """Retention's answers, as the fake bus delivers them: one stored completion, chatcmpl-1, of contoso."""
    if request.operation != "list" and request.completion_id != "chatcmpl-1":
        return [RequestFailed(**request.envelope(), error=ApiError(status=404, type="invalid_request_error",
                                                                  code="not_found", message="No such completion."))]
    if request.operation == "delete":
        return [StoredCompletionsFound(**request.envelope(), deleted=True)]
    if request.operation == "messages":
        return [StoredCompletionsFound(**request.envelope(), has_more=True, items=[
            json.dumps({"id": "chatcmpl-1-0", "role": "user", "content": "Say hello"})])]
    return [StoredCompletionsFound(**request.envelope(), items=[json.dumps(COMPLETION)])]


@pytest.mark.parametrize("key", ["contoso", "quiet"])
def test_store_true_hands_request_and_answer_to_retention_whatever_content_logging_says(key):
    h = gateway()
    response = post(h, key=key, body={**HELLO, "store": True, "metadata": {"app": "x"}})
    stored = record_of(h).stored
    assert stored.completion_id == response.json()["id"] and stored.metadata == {"app": "x"}
    assert [m.content for m in stored.messages] == ["Say hello"]
    assert json.loads(stored.response) == response.json()
    assert record_of(h).content_logging is (key == "contoso")


def test_without_store_nothing_is_kept_for_the_caller_and_metadata_beyond_openais_limits_is_refused():
    h = gateway()
    post(h, body={**HELLO, "metadata": {"app": "x"}})  # accepted, as OpenAI does, and kept nowhere
    assert record_of(h).stored is None
    too_many = {str(i): "v" for i in range(17)}
    assert_error(post(gateway(), body={**HELLO, "store": True, "metadata": too_many}), 400, "invalid_request",
                 "metadata")


def test_stored_completion_routes_ask_retention_for_the_callers_resource_on_both_path_styles():
    h = gateway()
    h.bus.stored = retention
    key = {"api-key": h.keys["contoso"]}
    listed = h.client.get("/v1/chat/completions?model=m&metadata[app]=x&limit=5&order=desc", headers=key).json()
    assert listed == {"object": "list", "data": [COMPLETION], "first_id": "chatcmpl-1", "last_id": "chatcmpl-1",
                      "has_more": False}
    assert h.client.get(f"/openai/chat/completions/chatcmpl-1?{VERSION}", headers=key).json() == COMPLETION
    messages = h.client.get("/v1/chat/completions/chatcmpl-1/messages", headers=key).json()
    assert messages["data"][0]["id"] == "chatcmpl-1-0" and messages["has_more"] is True
    assert h.client.post("/v1/chat/completions/chatcmpl-1", json={"metadata": {"app": "y"}}, headers=key).json() \
        == COMPLETION
    assert h.client.delete(f"/openai/chat/completions/chatcmpl-1?{VERSION}", headers=key).json() == {
        "object": "chat.completion.deleted", "id": "chatcmpl-1", "deleted": True}
    questions = h.bus.of_type(StoredCompletionsRequested)
    assert [q.operation for q in questions] == ["list", "get", "messages", "update", "delete"]
    assert {q.resource_id for q in questions} == {"contoso"}
    assert (questions[0].model, questions[0].metadata, questions[0].limit, questions[0].order) == ("m", {"app": "x"},
                                                                                                 5, "desc")
    assert questions[3].metadata == {"app": "y"}
    assert h.bus.of_type(InteractionCompleted) == []  # reading stored completions is not an interaction


def test_an_unknown_completion_is_a_404_and_bad_parameters_a_400():
    h = gateway()
    h.bus.stored = retention
    key = {"api-key": h.keys["contoso"]}
    assert_error(h.client.get("/v1/chat/completions/chatcmpl-9", headers=key), 404, "not_found")
    assert_error(h.client.get("/v1/chat/completions?limit=0", headers=key), 400, "invalid_request", "limit")
    assert_error(h.client.get("/v1/chat/completions?order=up", headers=key), 400, "invalid_request", "order")
    assert_error(h.client.get("/openai/chat/completions/chatcmpl-1", headers=key), 400,
                 "MissingApiVersionParameter", "api-version")
    assert_error(h.client.get("/v1/chat/completions"), 401, "401")
    assert h.bus.of_type(StoredCompletionsRequested)[0].completion_id == "chatcmpl-9"
    assert post(h, AZURE).status_code == 200  # creating completions is unchanged beside the new GET routes
