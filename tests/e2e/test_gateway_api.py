"""The gateway's API as users' code sees it: legacy completions, limits shared by replicas, errors."""

from __future__ import annotations

import time

import httpx
import pytest
from openai import AuthenticationError, AzureOpenAI, BadRequestError, NotFoundError, OpenAI, RateLimitError

from tests.conftest import CHAT_MODEL, ECHO_MODEL

pytestmark = [pytest.mark.stack, pytest.mark.kafka, pytest.mark.mongo]


def test_legacy_completions_with_both_clients(stack) -> None:
    key = stack.create_resource(f"legacy-{stack.region}", {"echo": ECHO_MODEL, "gpt": CHAT_MODEL})["keys"]["key1"]
    azure = AzureOpenAI(azure_endpoint=stack.gateways[0], api_key=key, api_version="2024-10-21")
    echoed = azure.completions.create(model="echo", prompt="plain prompt text", max_tokens=10)
    assert echoed.object == "text_completion" and echoed.choices[0].text == "You said: plain prompt text"
    openai = OpenAI(base_url=f"{stack.gateways[1]}/v1", api_key=key)
    real = openai.completions.create(model="gpt", prompt="The capital of France is", max_tokens=5, temperature=0)
    assert real.choices[0].text and real.usage.completion_tokens <= 5
    assert real.choices[0].finish_reason in ("stop", "length")
    streamed = list(openai.completions.create(model="echo", prompt="a b c", stream=True))
    assert "".join(c.choices[0].text for c in streamed if c.choices) == "You said: a b c"
    with pytest.raises(BadRequestError) as refused:
        openai.completions.create(model="echo", prompt="x", echo=True)
    assert refused.value.body["param"] == "echo"


def test_a_limit_holds_across_both_gateway_replicas(stack) -> None:
    created = stack.create_resource(f"limited-{stack.region}", {"echo": ECHO_MODEL}, limits={"rpm": 4})
    clients = [OpenAI(base_url=f"{g}/v1", api_key=created["keys"]["key1"], max_retries=0) for g in stack.gateways]
    if time.time() % 60 > 45:  # windows are whole minutes: keep all seven requests in one
        time.sleep(61 - time.time() % 60)
    outcomes = []
    for i in range(7):
        try:
            clients[i % 2].chat.completions.create(model="echo", messages=[{"role": "user", "content": str(i)}])
            outcomes.append("ok")
        except RateLimitError as limited:
            outcomes.append("429")
            headers = limited.response.headers
            assert int(headers["retry-after"]) >= 1 and headers["x-ratelimit-remaining-requests"] == "0"
    assert outcomes.count("ok") == 4 and outcomes.count("429") == 3, outcomes


def test_errors_are_in_the_openai_shape(stack) -> None:
    key = stack.create_resource(f"errors-{stack.region}", {"echo": ECHO_MODEL})["keys"]["key1"]
    openai = OpenAI(base_url=f"{stack.gateways[0]}/v1", api_key=key, max_retries=0)
    with pytest.raises(AuthenticationError):
        OpenAI(base_url=f"{stack.gateways[0]}/v1", api_key="wrong", max_retries=0).models.list()
    with pytest.raises(NotFoundError):
        openai.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(BadRequestError) as bad:
        openai.chat.completions.create(model="echo", messages=[{"role": "user", "content": "hi"}], temperature=5)
    assert bad.value.body["param"] == "temperature"
    missing_version = httpx.post(f"{stack.gateways[0]}/openai/deployments/echo/chat/completions",
                                 headers={"api-key": key}, json={"messages": [{"role": "user", "content": "x"}]})
    assert missing_version.status_code == 400 and missing_version.json()["error"]["param"] == "api-version"
