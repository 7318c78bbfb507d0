"""Item: rate limits that hold. The token estimate counts every choice and, without max_tokens,
the deployment's context; a resource created without limits gets the default ones. (The booking
of corrections to the current window needs a request that outlives its minute: unit-tested in
tests/unit/test_rate_limits.py with an explicit clock.)"""

from __future__ import annotations

import pytest

from tests.security.edge_support import HELLO, assert_refused, chat_url, client, timed, unique

pytestmark = pytest.mark.stack


def limited(stack, tpm: int, context_length: int) -> str:
    resource_id = unique("edge-limits")
    with stack.admin() as admin:
        created = admin.post("/admin/resources", json={
            "resource_id": resource_id, "region": stack.region, "limits": {"tpm": tpm},
            "deployments": [{"name": "echo", "model": "echo", "context_length": context_length}]})
    assert created.status_code == 201, created.text
    return created.json()["keys"]["key1"]


def test_every_choice_is_charged(stack):
    key = limited(stack, tpm=3000, context_length=1000)
    with client(stack, key) as gateway:
        one = gateway.post(chat_url(), json={"messages": HELLO, "max_tokens": 900})
        assert one.status_code == 200, one.text
        four = timed(gateway, "POST", chat_url(), json={"messages": HELLO, "max_tokens": 900, "n": 4})
    error = assert_refused(four, 429, "rate_limit_exceeded")
    assert "tokens per minute" in error["message"]
    assert four.response.headers["retry-after"] and four.response.headers["x-ratelimit-limit-tokens"] == "3000"


def test_a_missing_max_tokens_is_charged_the_rest_of_the_context(stack):
    key = limited(stack, tpm=1500, context_length=1000)
    with client(stack, key) as gateway:
        assert gateway.post(chat_url(), json={"messages": HELLO, "max_tokens": 10}).status_code == 200
        # Without max_tokens a choice may fill the context: two of them cannot fit in 1,500 tokens.
        assert_refused(timed(gateway, "POST", chat_url(), json={"messages": HELLO, "n": 2}), 429, "rate_limit_exceeded")


def test_a_resource_created_without_limits_gets_the_default_limits(stack):
    resource_id = unique("edge-default")
    created = stack.create_resource(resource_id, {"echo": "echo"})
    assert created["limits"] == {"rpm": 600, "tpm": 1000000}
    with client(stack, created["keys"]["key1"]) as gateway:
        response = gateway.post(chat_url(), json={"messages": HELLO, "max_tokens": 5})
    assert response.headers["x-ratelimit-limit-requests"] == "600"
    assert int(response.headers["x-ratelimit-remaining-requests"]) == 599


def test_a_burst_across_both_replicas_admits_no_more_than_the_limit(stack):
    from concurrent.futures import ThreadPoolExecutor

    resource_id = unique("edge-burst")
    key = stack.create_resource(resource_id, {"echo": "echo"}, limits={"rpm": 10})["keys"]["key1"]

    def send(i: int) -> int:
        with client(stack, key, replica=i % 2) as gateway:
            return gateway.post(chat_url(), json={"messages": HELLO, "max_tokens": 5}).status_code

    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = list(pool.map(send, range(30)))
    assert set(statuses) <= {200, 429}
    assert 1 <= statuses.count(200) <= 10, statuses
