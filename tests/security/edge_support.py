"""What the edge security tests share: timed requests against the running stack, and the check
that a refusal is a 4xx in the OpenAI error shape, given within the issue's one second."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import httpx

from tests.conftest import ECHO_MODEL, Stack

REFUSAL_WITHIN_S = 1.0
VERSION = "api-version=2024-10-21"
HELLO = [{"role": "user", "content": "Say hello"}]


@dataclass(frozen=True)
class Timed:
    response: httpx.Response
    elapsed_s: float

    def json(self) -> dict:
        return self.response.json()


def timed(client: httpx.Client, method: str, url: str, **kwargs) -> Timed:
    began = time.perf_counter()
    response = client.request(method, url, **kwargs)
    return Timed(response, time.perf_counter() - began)


def assert_refused(result: Timed, status: int, code: str | None = None, param: str | None = "any") -> dict:
    """A 4xx in the OpenAI shape, within REFUSAL_WITHIN_S; returns the error object."""
    response = result.response
    assert response.status_code == status, response.text[:500]
    assert result.elapsed_s < REFUSAL_WITHIN_S, f"refused after {result.elapsed_s:.2f} s"
    error = response.json()["error"]
    assert {"message", "type", "param", "code"} <= set(error) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    if param != "any":
        assert error["param"] == param, error
    assert response.headers["x-request-id"]
    return error


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def echo_resource(stack: Stack, prefix: str, **fields) -> tuple[str, str]:
    """A resource with deployment ``echo`` (the echo engine) and an annotate-only filter policy;
    returns (resource ID, key1)."""
    resource_id = unique(prefix)
    created = stack.create_resource(resource_id, {"echo": ECHO_MODEL}, **fields)
    return resource_id, created["keys"]["key1"]


def chat_url(deployment: str = "echo") -> str:
    return f"/openai/deployments/{deployment}/chat/completions?{VERSION}"


def client(stack: Stack, key: str, replica: int = 0) -> httpx.Client:
    return httpx.Client(base_url=stack.gateways[replica], headers={"api-key": key}, timeout=90)
