"""Done-when: schemathesis against the LIVE gateway (the stack's processes, loopback only, a fixed
number of examples): no answer is a 5xx, every refusal (4xx) comes within one second, in the
OpenAI error shape. Accepted requests go the whole way (filter, echo engine, retention).

``data_sources`` is dropped from generated bodies: it names a server for retrieval to connect to,
and this run connects to nothing but loopback."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.edge_support import REFUSAL_WITHIN_S, echo_resource

pytestmark = pytest.mark.stack
EXAMPLES = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def fuzz_key(stack) -> str:
    return echo_resource(stack, "edge-fuzz", limits={})[1]


def cases(url: str) -> st.SearchStrategy:
    """Cases of every operation of the live document (the gateway serves its own /openapi.json).
    Drawn in the test, not through schemathesis.pytest.from_fixture, which pytest 9 no longer runs."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    return st.one_of([operation.ok().as_strategy() for operation in schema.get_all_operations()])


def test_the_live_gateway_never_fails_and_refuses_within_a_second(stack, fuzz_key):
    strategy = cases(stack.gateways[0])

    @EXAMPLES
    @given(st.data())
    def run(data: st.DataObject) -> None:
        case = data.draw(strategy)
        if "deployment" in (case.path_parameters or {}):
            case.path_parameters["deployment"] = "echo"
        if isinstance(case.body, dict):
            case.body.pop("data_sources", None)
            case.body["model"] = "echo"
        send(case, stack.gateways[0], {"api-key": fuzz_key})

    run()


def test_the_live_admin_api_never_fails_and_refuses_within_a_second(stack):
    strategy = cases(stack.admin_url)

    @EXAMPLES
    @given(st.data())
    def run(data: st.DataObject) -> None:
        send(data.draw(strategy), stack.admin_url, {"authorization": f"Bearer {stack.admin_key}"})

    run()


def send(case: Any, base_url: str, credential: dict[str, str]) -> None:
    request = case.as_transport_kwargs(base_url=base_url)
    body = json.dumps(request["json"]).encode() if "json" in request else request.get("data")
    # Generated credentials (e.g. "Bearer " with nothing after it) are values no HTTP client sends:
    # trimmed, then the real credential of this run on top.
    headers = {name: value.strip() for name, value in (request.get("headers") or {}).items()} | credential
    with httpx.Client(timeout=90) as client:
        response = client.request(request["method"], request["url"], headers=headers,
                                  params=request.get("params"), content=body)
    elapsed = response.elapsed.total_seconds()
    assert response.status_code < 500, f"{request['method']} {request['url']}: {response.text[:300]}"
    if response.status_code >= 400:
        assert elapsed < REFUSAL_WITHIN_S, f"{response.status_code} after {elapsed:.2f} s"
        assert {"message", "type", "param", "code"} <= set(response.json()["error"])
