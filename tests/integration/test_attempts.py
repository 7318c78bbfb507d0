"""Two runs of one request, and a stream seen from its middle, through the real filter on the real broker.

The filter service (blocklist layer, static policy) consumes generation events from Kafka; what
it answers is read back from the region's replies topic, as a gateway replica would read it.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from contracts import generation_events
from contracts.common import Usage
from contracts.gateway_replies import CompletionReady, RequestFailed
from contracts.generation_events import CompletionGenerated, GeneratedChoice
from contracts.registry import GATEWAY_REPLY
from services.filter.app import create_app
from services.filter.policy import FilterPolicy
from services.filter.settings import FilterSettings
from tests.integration.bus_client import BusClient, envelope

pytestmark = pytest.mark.kafka
USAGE = Usage(prompt_tokens=3, completion_tokens=4, total_tokens=7)


def event(common: dict, attempt: str, sequence: int, text: str, *, final: bool = False) -> CompletionGenerated:
    return CompletionGenerated(**common, attempt_id=attempt, sequence=sequence, final=final, model="echo",
                               choices=[GeneratedChoice(index=0, text=text, finish_reason="stop" if final else None)],
                               usage=USAGE if final else None)


def settings_for(region: str, infra) -> FilterSettings:
    return FilterSettings(region=region, kafka_bootstrap=infra.kafka, layers=("blocklists",), policy_store="static",
                          default_policy=FilterPolicy(streaming="asynchronous"))


def terminal(replies: list) -> bool:
    return any(isinstance(r, RequestFailed) or (isinstance(r, CompletionReady) and r.final) for r in replies)


async def test_two_attempts_of_a_request_never_interleave_on_the_real_broker(infra, region) -> None:
    common = envelope(region)
    async with BusClient(infra.kafka, region, "{region}.gateway.replies.v1", GATEWAY_REPLY) as replies, \
            create_app(settings_for(region, infra)):
        # The request's partition moved mid-flight: the second replica's run interleaves with the first's.
        for message in (event(common, "first", 0, "one "), event(common, "second", 0, "uno "),
                        event(common, "first", 1, "two "), event(common, "second", 1, "dos "),
                        event(common, "first", 2, "three", final=True), event(common, "second", 2, "tres", final=True)):
            await replies.publish(generation_events.TOPIC, message)
        answer = await replies.wait_for(common["request_id"], terminal, timeout_s=30)
        await asyncio.sleep(1.0)  # anything the second attempt would have added arrives by now
        answer = replies.received(common["request_id"])

    texts = "".join(c.text for r in answer if isinstance(r, CompletionReady) for c in r.choices)
    assert texts == "one two three"
    assert sum(1 for r in answer if terminal([r])) == 1, "exactly one terminal answer"


async def test_a_stream_seen_from_its_middle_is_answered_with_an_error_at_once(infra, region) -> None:
    common = envelope(region)
    async with BusClient(infra.kafka, region, "{region}.gateway.replies.v1", GATEWAY_REPLY) as replies, \
            create_app(settings_for(region, infra)):
        started = time.monotonic()
        # Events 0 and 1 went through a filter replica that died: this one never saw them.
        await replies.publish(generation_events.TOPIC, event(common, "first", 2, "three "))
        answer = await replies.wait_for(common["request_id"], terminal, timeout_s=30)
        elapsed = time.monotonic() - started
        await replies.publish(generation_events.TOPIC, event(common, "first", 3, "four", final=True))
        await asyncio.sleep(1.0)
        answer = replies.received(common["request_id"])

    assert [type(r).__name__ for r in answer] == ["RequestFailed"], "one explicit error, nothing after it"
    assert (answer[0].error.status, answer[0].error.code) == (503, "stream_interrupted")
    assert elapsed < 10, f"answered after {elapsed:.1f} s"
