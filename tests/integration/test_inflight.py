"""The in-flight window on the real broker, in the inference service (echo engine): a work that
fails for an outage comes again from Kafka and only then is its offset committed; a work that
fails for anything else is dead-lettered and the partition moves on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaTimeoutError

from contracts import generation_events, generation_requests
from contracts.base import topic_name
from contracts.common import ChatMessage, SamplingParams
from contracts.generation_events import CompletionGenerated
from contracts.generation_requests import GenerateCompletion
from services.inference.adapters.echo_engine import EchoEngine
from services.inference.app import create_app
from services.inference.ports import EngineStep
from services.inference.settings import InferenceSettings
from tests.integration.bus_client import BusClient, envelope
from tests.integration.kafka_tools import read_topic

pytestmark = pytest.mark.kafka
MODEL = "echo"


class FailingOnce(EchoEngine):
    """The echo engine, except that the first attempt of each request named raises ``errors[id]``."""

    def __init__(self, errors: dict[str, Exception]) -> None:
        super().__init__([MODEL])
        self.errors = dict(errors)
        self.attempts: dict[str, int] = {}

    async def generate(self, request: GenerateCompletion) -> AsyncIterator[EngineStep]:
        self.attempts[request.request_id] = self.attempts.get(request.request_id, 0) + 1
        error = self.errors.pop(request.request_id, None)
        if error is not None:
            raise error
        async for step in super().generate(request):
            yield step


def command(region: str, request_id: str) -> GenerateCompletion:
    return GenerateCompletion(**{**envelope(region), "request_id": request_id}, model=MODEL,
                              messages=[ChatMessage(role="user", content="hello there")],
                              sampling=SamplingParams(max_tokens=8))


async def committed(bootstrap: str, group: str) -> dict[int, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items()}


async def test_an_outage_is_delivered_again_and_a_bug_is_dead_lettered(infra, region) -> None:
    ids = [f"req_inflight-{i:04d}" for i in range(6)]
    engine = FailingOnce({ids[1]: KafkaTimeoutError(), ids[3]: RuntimeError("a bug")})
    settings = InferenceSettings(region=region, kafka_bootstrap=infra.kafka, chat_models={}, embedding_models={})
    source = topic_name(generation_requests.TOPIC, region)
    async with BusClient(infra.kafka, region, generation_events.TOPIC, CompletionGenerated) as events, \
            create_app(settings, engine=engine):
        for request_id in ids:  # one resource: one partition, in this order
            await events.publish(generation_requests.TOPIC, command(region, request_id))
        answered = [i for i in ids if i != ids[3]]
        finals = await asyncio.gather(*(events.wait_for(i, lambda es: any(e.final for e in es)) for i in answered))
        async with asyncio.timeout(15):
            while sum((await committed(infra.kafka, f"{region}.inference")).values()) < len(ids):
                await asyncio.sleep(0.1)

    assert all(f[-1].error is None and f[-1].choices[0].text == "You said: hello there" for f in finals)
    assert engine.attempts == {ids[0]: 1, ids[1]: 2, ids[2]: 1, ids[3]: 1, ids[4]: 1, ids[5]: 1}
    assert all(len([e for e in events.received(i) if e.final]) == 1 for i in answered), "one answer each"
    assert list((await committed(infra.kafka, f"{region}.inference")).values()) == [len(ids)]
    letters = await read_topic(infra.kafka, source + ".dlq", until=lambda r: len(r) >= 1)
    assert [(GenerateCompletion.model_validate_json(r.value).request_id, dict(r.headers)["dlq-error-type"])
            for r in letters] == [(ids[3], b"RuntimeError")]
