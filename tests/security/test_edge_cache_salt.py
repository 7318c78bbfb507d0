"""Item: cache_salt per resource on every vLLM request. A prompt prefix cached for one resource
is reused by that resource (cached_tokens > 0) and never by another, which would otherwise be
answered faster when a neighbour had sent the same prompt: a timing side channel between tenants."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import CHAT_MODEL
from tests.security.edge_support import chat_url, client, unique

pytestmark = pytest.mark.stack


def cached_tokens(stack, key: str, prompt: str) -> int | None:
    with client(stack, key) as gateway:
        response = gateway.post(chat_url("chat"), json={"messages": [{"role": "user", "content": prompt}],
                                                        "max_tokens": 1, "temperature": 0})
    assert response.status_code == 200, response.text
    return response.json()["usage"].get("prompt_tokens_details", {}).get("cached_tokens")


def test_a_cached_prefix_is_reused_by_its_own_resource_only(stack):
    keys = [stack.create_resource(unique(f"edge-salt{i}"), {"chat": CHAT_MODEL})["keys"]["key1"]
            for i in range(2)]
    marker = uuid.uuid4().hex  # a prompt no earlier run cached
    prompt = f"{marker} " + " ".join(f"line {i} of the shared document about harbour logistics." for i in range(90))
    cached_tokens(stack, keys[0], prompt)
    own = cached_tokens(stack, keys[0], prompt)
    other = cached_tokens(stack, keys[1], prompt)
    assert own is not None and own > 0, "the same resource reuses its cached prefix"
    assert other == 0, "another resource must not hit the first one's cache"
