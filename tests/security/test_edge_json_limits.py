"""Item: JSON depth and integer-length limits (400), body limits per route, admin included; every
refusal a 4xx in the OpenAI error shape within one second."""

from __future__ import annotations

import pytest

from tests.security.edge_support import assert_refused, chat_url, client, echo_resource, timed

pytestmark = pytest.mark.stack
JSON = {"content-type": "application/json"}
HOSTILE_JSON = {
    "20,000-deep array": b"[" * 20000 + b"]" * 20000,
    "20,000-deep object": b'{"a":' * 20000 + b"1" + b"}" * 20000,
    "33 levels inside a body": (b'{"messages": [{"role": "user", "content": "hi"}], "x": '
                                + b"[" * 33 + b"]" * 33 + b"}"),
    "5,000-digit integer": b'{"messages": [{"role": "user", "content": "hi"}], "seed": ' + b"9" * 5000 + b"}",
    "NaN": b'{"messages": [{"role": "user", "content": "hi"}], "temperature": NaN}',
    "1e999": b'{"messages": [{"role": "user", "content": "hi"}], "temperature": 1e999}',
    "invalid UTF-8": b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}',
}


@pytest.mark.parametrize("raw", HOSTILE_JSON.values(), ids=HOSTILE_JSON.keys())
def test_hostile_json_is_a_400_within_a_second(stack, raw):
    _, key = echo_resource(stack, "edge-json")
    with client(stack, key) as gateway:
        assert_refused(timed(gateway, "POST", chat_url(), content=raw, headers=JSON), 400, "invalid_json")


def test_a_data_body_over_one_mebibyte_is_a_413_declared_or_streamed(stack):
    _, key = echo_resource(stack, "edge-body")
    body = b'{"messages": [{"role": "user", "content": "' + b"x" * (1 << 20) + b'"}]}'
    with client(stack, key) as gateway:
        assert_refused(timed(gateway, "POST", chat_url(), content=body, headers=JSON), 413, "request_too_large")
        chunks = iter([body[i:i + 65536] for i in range(0, len(body), 65536)])  # no content-length: chunked
        assert_refused(timed(gateway, "POST", chat_url(), content=chunks, headers=JSON), 413, "request_too_large")


def test_an_admin_body_over_64_kibibytes_is_a_413(stack):
    deployments = [{"name": f"d{i}", "model": "echo"} for i in range(3000)]
    with stack.admin() as admin:
        result = timed(admin, "POST", "/admin/resources",
                       json={"resource_id": "edge-big-admin", "region": stack.region, "deployments": deployments})
        assert_refused(result, 413, "request_too_large")
        assert admin.get("/admin/resources/edge-big-admin").status_code == 404

