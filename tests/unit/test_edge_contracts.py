"""Property: whatever the HTTP edge accepts survives the bus codec and validates as the contract.

Hostile bodies (integers beyond int64, NaN, huge and negative numbers, wrong types, nested junk)
go through the real gateway app on fakes. Each answer is below 500; each message the gateway
would publish is encoded and decoded exactly as the broker does (its serializer out, orjson in)
and validated as its contract, as the consuming service would. A body the edge accepts and a
consumer refuses is what made the filter dead-letter `seed: 2**64` while the caller waited 60 s.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from faststream.message.utils import decode_message, encode_message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.base import Envelope
from contracts.generation_cancellations import CancelGeneration
from contracts.interaction_records import InteractionCompleted
from services.gateway.json_body import parse_json
from services.runtime.bus import make_broker
from tests.unit.gateway_fakes import gateway

HARNESS = gateway()
KEY = {"api-key": HARNESS.keys["contoso"]}
# The broker's own serializer (FastStream's default, a pydantic one): what TopicPublisher sends.
SERIALIZER = make_broker("127.0.0.1:1", service="edge-test").config.fd_config._serializer

EDGES = [0, 1, 2, 4, 5, 16, 17, 20, 21, 256, 300, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -1, -(2**63),
         -(2**63) - 1, 1.5, -0.0, 2.0000001, 100.0, -100.5, 1e308, float("nan"), float("inf")]
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=-(2**80), max_value=2**80),
                    st.floats(), st.text(max_size=12))
junk = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)
OUTSIDE_INT64 = [2**63, 2**64, -(2**63) - 1, 10**30]
hostile_value = st.one_of(st.sampled_from(OUTSIDE_INT64), st.sampled_from(EDGES), junk)

int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
text = st.text(max_size=20)
SAMPLING = {
    "temperature": st.floats(0, 2), "top_p": st.floats(0, 1, exclude_min=True), "n": st.integers(1, 16),
    "seed": int64, "presence_penalty": st.floats(-2, 2), "frequency_penalty": st.floats(-2, 2),
    "max_tokens": st.integers(1, 2**63 - 1), "user": st.text(max_size=256), "stream": st.booleans(),
    "stop": st.one_of(text, st.lists(text, max_size=4)),
    "logit_bias": st.dictionaries(st.integers(0, 999_999_999).map(str), st.floats(-100, 100), max_size=3),
}
message = st.fixed_dictionaries({"role": st.sampled_from(["system", "user", "assistant", "developer", "tool"]),
                                 "content": text})
CHAT = {"messages": st.lists(message, min_size=1, max_size=3)}
CHAT_OPTIONAL = {**SAMPLING, "max_completion_tokens": st.integers(1, 2**63 - 1), "top_logprobs": st.integers(0, 20),
                 "logprobs": st.booleans(), "response_format": st.just({"type": "json_object"}),
                 "stream_options": st.just({"include_usage": True}), "some_unknown_field": junk}
COMPLETION = {"prompt": text}
COMPLETION_OPTIONAL = {**SAMPLING, "logprobs": st.integers(0, 5), "best_of": st.integers(1, 16)}
EMBEDDING = {"input": st.one_of(st.text(min_size=1, max_size=20), st.lists(st.text(min_size=1, max_size=8),
                                                                            min_size=1, max_size=3))}
EMBEDDING_OPTIONAL = {"dimensions": st.integers(1, 2**63 - 1), "user": st.text(max_size=256),
                      "encoding_format": st.sampled_from(["float", "base64"])}


@st.composite
def bodies(draw: Any, required: dict[str, Any], optional: dict[str, Any]) -> dict[str, Any]:
    """A valid body, then one or two of its fields replaced by hostile values."""
    body = draw(st.fixed_dictionaries(required, optional=optional))
    for name in draw(st.lists(st.sampled_from(sorted({*required, *optional})), min_size=1, max_size=2, unique=True)):
        body[name] = draw(hostile_value)
    return body


def bus_round_trip(message: Envelope) -> Any:
    """Encode as the publisher does, decode as the subscriber does, validate as the handler does."""
    body, content_type = encode_message(message, SERIALIZER)
    decoded = decode_message(SimpleNamespace(body=body, content_type=content_type))
    return type(message).model_validate(decoded)


def send(path: str, body: dict[str, Any]) -> list[Envelope]:
    HARNESS.bus.published.clear()
    raw = json.dumps(body).encode()  # NaN and Infinity too: Python writes them, the edge must refuse them
    response = HARNESS.client.post(path, content=raw, headers={**KEY, "content-type": "application/json"})
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert set(response.json()["error"]) >= {"message", "type", "param", "code"}
        assert HARNESS.bus.published == [], "a refused request publishes nothing"
    requests = [m for m in HARNESS.bus.published if not isinstance(m, CancelGeneration | InteractionCompleted)]
    assert (response.status_code < 400) == bool(requests)
    return requests


def assert_survives_the_bus(messages: list[Envelope]) -> None:
    for published in messages:
        assert bus_round_trip(published) == published


EXAMPLES = settings(max_examples=250, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


@EXAMPLES
@given(bodies(CHAT, CHAT_OPTIONAL))
def test_every_accepted_chat_request_survives_the_bus(body):
    assert_survives_the_bus(send("/v1/chat/completions", {**body, "model": "chat-prod"}))


@EXAMPLES
@given(bodies(COMPLETION, COMPLETION_OPTIONAL))
def test_every_accepted_completion_request_survives_the_bus(body):
    assert_survives_the_bus(send("/v1/completions", {**body, "model": "chat-prod"}))


@EXAMPLES
@given(bodies(EMBEDDING, EMBEDDING_OPTIONAL))
def test_every_accepted_embedding_request_survives_the_bus(body):
    assert_survives_the_bus(send("/v1/embeddings", {**body, "model": "chat-prod"}))


def test_the_round_trip_catches_what_the_codec_cannot_carry():
    """The property is not vacuous: an int64-overflowing seed dies in the codec or the contract."""
    from contracts.common import SamplingParams

    wide = SamplingParams.model_construct(**{**SamplingParams().model_dump(), "seed": 2**64})
    try:
        SamplingParams.model_validate(json.loads(encode_message(wide, SERIALIZER)[0]))
    except Exception as error:  # noqa: BLE001 - any failure proves the point
        assert "seed" in str(error) or "64-bit" in str(error)
    else:
        raise AssertionError("a seed of 2**64 crossed the codec and validated")


def test_hostile_json_shapes_are_refused_before_validation():
    for raw in (b"[" * 20000 + b"]" * 20000, b'{"seed": ' + b"9" * 5000 + b"}", b'{"t": NaN}', b'{"t": 1e999}',
                b'{"a": ' + b"[" * 33 + b"]" * 33 + b"}"):
        try:
            parse_json(raw)
        except Exception as error:  # noqa: BLE001 - checked just below
            assert type(error).__name__ == "InvalidRequest" and error.status == 400
        else:
            raise AssertionError(f"accepted {raw[:20]!r}")
