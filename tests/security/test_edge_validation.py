"""Item: edge validation from the contracts. A value outside what the bus carries is a 400 at
the edge, at once; a value at the edge of what it carries is answered, not dead-lettered."""

from __future__ import annotations

import pytest

from tests.security.edge_support import HELLO, assert_refused, chat_url, client, echo_resource, timed

pytestmark = pytest.mark.stack

OUTSIDE = {
    "seed 2**64": ("seed", 2**64, "seed"),
    "seed below int64": ("seed", -(2**63) - 1, "seed"),
    "n 17": ("n", 17, "n"),
    "max_tokens beyond int64": ("max_tokens", 2**63, "max_tokens"),
    "top_logprobs 21": ("top_logprobs", 21, "top_logprobs"),
    "logit_bias 101": ("logit_bias", {"50256": 101}, "logit_bias.50256"),
}


@pytest.mark.parametrize(("field", "value", "param"), OUTSIDE.values(), ids=OUTSIDE.keys())
def test_a_value_the_bus_cannot_carry_is_refused_at_the_edge(stack, field, value, param):
    _, key = echo_resource(stack, "edge-values")
    with client(stack, key) as gateway:
        result = timed(gateway, "POST", chat_url(), json={"messages": HELLO, field: value})
    assert_refused(result, 400, "invalid_request", param=param)


def test_the_extremes_the_edge_accepts_are_answered_by_the_platform(stack):
    _, key = echo_resource(stack, "edge-extremes")
    with client(stack, key) as gateway:
        for seed in (2**63 - 1, -(2**63)):
            response = gateway.post(chat_url(), json={"messages": HELLO, "seed": seed, "n": 16, "max_tokens": 4,
                                                      "logit_bias": {"50256": -100}, "top_p": 1e-9})
            assert response.status_code == 200, response.text
            assert len(response.json()["choices"]) == 16
