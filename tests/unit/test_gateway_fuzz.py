"""Schemathesis against the generated OpenAPI document: whatever a client sends, the gateway
answers 2xx or 4xx in the OpenAI error shape, never a 5xx. Runs on fakes (no Kafka, no store)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings

from tests.unit.gateway_fakes import ADMIN_KEY, gateway

HARNESS = gateway()
KEY = HARNESS.keys["contoso"]
# Loaded from the documents themselves: from_asgi would run the app's lifespan, which needs Kafka.
schema = schemathesis.openapi.from_dict(HARNESS.client.app.openapi())
admin_schema = schemathesis.openapi.from_dict(HARNESS.admin.app.openapi())


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_request_makes_the_gateway_fail(case) -> None:
    _check(HARNESS.client, case, f"Bearer {KEY}")


@admin_schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_request_makes_the_admin_api_fail(case) -> None:
    _check(HARNESS.admin, case, f"Bearer {ADMIN_KEY}")


def _check(client, case, credential: str) -> None:
    request = case.as_transport_kwargs(base_url="http://testserver",
                                       headers={"authorization": credential, "api-key": KEY})
    response = client.request(request["method"], request["url"], headers=request.get("headers"),
                              params=request.get("params"), content=_body(request))
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert {"message", "type", "param", "code"} <= error.keys()


def _body(request: dict) -> bytes | None:
    if "json" in request:
        import json

        return json.dumps(request["json"]).encode()
    return request.get("data")
