"""One chat request through every service over the real broker, with the official openai SDK.

gateway -> (retrieval ->) filter -> inference -> filter -> gateway, and retention's record.
"""

from __future__ import annotations

import asyncio
import uuid

import bson
import pytest
from openai import AsyncOpenAI, AzureOpenAI, NotFoundError, OpenAI
from pymongo import AsyncMongoClient, MongoClient

from contracts import gateway_replies, generation_events, generation_requests, prompt_submissions
from contracts.base import topic_name
from tests.conftest import CHAT_MODEL, ECHO_MODEL
from tests.integration.kafka_tools import read_topic

pytestmark = [pytest.mark.stack, pytest.mark.kafka, pytest.mark.mongo]
# "echo" is served by the zero-cost echo engine: exact answers to assert on ("You said: ...").


@pytest.fixture(scope="module")
def tenant(stack) -> dict:
    resource_id = f"contoso-{stack.region}"
    return stack.create_resource(resource_id, {"echo": ECHO_MODEL, "chat": CHAT_MODEL})


async def retention_record(stack, request_id: str) -> dict:
    client: AsyncMongoClient = AsyncMongoClient(stack.infra.mongo)
    database = f"residency_retention_{stack.region.replace('-', '_')}"
    try:
        async with asyncio.timeout(20):
            while not (found := await client[database]["records"].find_one({"request_id": request_id})):
                await asyncio.sleep(0.2)
        return found
    finally:
        await client.close()


async def test_a_chat_request_crosses_every_hop_and_is_retained(stack, tenant) -> None:
    client = AzureOpenAI(azure_endpoint=stack.gateways[0], api_key=tenant["keys"]["key1"], api_version="2024-10-21")
    raw = client.chat.completions.with_raw_response.create(
        model="echo", messages=[{"role": "user", "content": "ping across the bus"}], user="end-user-7")
    completion = raw.parse()
    request_id = raw.headers["x-request-id"]
    assert raw.headers["apim-request-id"] == request_id
    assert completion.id == f"chatcmpl-{request_id}"
    assert completion.choices[0].message.content == "You said: ping across the bus"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens > 0

    # Every hop: keyed by the resource, W3C trace context in the headers, one trace end to end.
    traces = set()
    for template in (prompt_submissions.TOPIC, generation_requests.TOPIC, generation_events.TOPIC,
                     gateway_replies.TOPIC):
        topic = topic_name(template, stack.region)
        records = await read_topic(stack.infra.kafka, topic,
                                   until=lambda rs: any(request_id.encode() in r.value for r in rs))
        hop = next(r for r in records if request_id.encode() in r.value)
        assert hop.key == tenant["resource_id"].encode(), topic
        headers = dict(hop.headers)
        assert "traceparent" in headers, topic
        traces.add(headers["traceparent"].split(b"-")[1])
    assert len(traces) == 1, "the trace ID must survive every hop"

    record = await retention_record(stack, request_id)
    assert (record["resource_id"], record["status"], record["end_user"]) == (tenant["resource_id"], 200, "end-user-7")
    assert record["content"]["alg"] == "AES-256-GCM"
    assert b"ping across the bus" not in bytes(record["content"]["ciphertext"])


async def test_two_gateway_replicas_each_answer_their_own_callers(stack, tenant) -> None:
    clients = [AsyncOpenAI(base_url=f"{g}/v1", api_key=tenant["keys"]["key2"]) for g in stack.gateways]
    tokens = [uuid.uuid4().hex for _ in range(40)]

    async def ask(i: int, token: str) -> str:
        reply = await clients[i % 2].chat.completions.create(
            model="echo", messages=[{"role": "user", "content": token}])
        return reply.choices[0].message.content

    answers = await asyncio.gather(*(ask(i, t) for i, t in enumerate(tokens)))
    assert answers == [f"You said: {t}" for t in tokens]
    for client in clients:
        await client.close()


def test_streaming_through_the_openai_client(stack, tenant) -> None:
    client = OpenAI(base_url=f"{stack.gateways[1]}/v1", api_key=tenant["keys"]["key1"])
    chunks = list(client.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": "stream me"}], stream=True,
        stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "You said: stream me"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == len(text.split())
    assert any(getattr(c, "prompt_filter_results", None) is not None for c in chunks)


async def test_a_grounded_request_reads_the_customers_collection_and_cites_it(stack, tenant) -> None:
    database = f"customer_{stack.region}"
    with MongoClient(stack.infra.customer_mongo) as customer:  # the tenant's own store, not the platform's
        customer[database]["articles"].insert_many([
            {"_id": "kb-1", "title": "Tides", "content": "Tides are caused by the gravity of the moon."},
            {"_id": "kb-2", "title": "Bread", "content": "Sourdough bread rises thanks to wild yeast."},
        ])
    registered = stack.create_connection(tenant["resource_id"], "kb", database_name=database)
    assert registered.status_code == 201, registered.text
    client = AzureOpenAI(azure_endpoint=stack.gateways[1], api_key=tenant["keys"]["key1"], api_version="2024-10-21")
    raw = client.chat.completions.with_raw_response.create(
        model="echo", messages=[{"role": "user", "content": "What causes tides and the moon gravity?"}],
        extra_body={"data_sources": [{"type": "mongo_db", "parameters": {
            "endpoint": stack.infra.customer_mongo, "database_name": database, "collection_name": "articles",
            "fields_mapping": {"content_fields": ["content"], "title_field": "title"}}}]})
    message = raw.parse().choices[0].message
    citations = message.model_extra["context"]["citations"]
    assert [(c["chunk_id"], c["title"]) for c in citations] == [("kb-1", "Tides")]
    record = await retention_record(stack, raw.headers["x-request-id"])
    assert record["citation_ids"] == ["kb-1"]


async def test_content_logging_off_stores_no_content(stack) -> None:
    quiet = stack.create_resource(f"quiet-{stack.region}", {"echo": ECHO_MODEL}, content_logging=False)
    assert {"name": "ContentLogging", "value": "false"} in quiet["capabilities"]
    client = OpenAI(base_url=f"{stack.gateways[0]}/v1", api_key=quiet["keys"]["key1"])
    raw = client.chat.completions.with_raw_response.create(
        model="echo", messages=[{"role": "user", "content": "canary-7f3a9 must not be stored"}])
    record = await retention_record(stack, raw.headers["x-request-id"])
    assert record["content"] is None and record["content_logging"] is False
    assert "canary-7f3a9" not in repr(record)
    client: AsyncMongoClient = AsyncMongoClient(stack.infra.mongo)
    try:  # nowhere in the region's store: no record, no signal, no key, no flag
        database = client[f"residency_retention_{stack.region.replace('-', '_')}"]
        for name in await database.list_collection_names():
            for document in await database[name].find().to_list():
                assert b"canary-7f3a9" not in bson.encode(document), name
        assert await database["data_keys"].count_documents({"resource_id": quiet["resource_id"]}) == 0
    finally:
        await client.close()


def test_two_resources_cannot_see_each_others_deployments(stack, tenant) -> None:
    other = stack.create_resource(f"fabrikam-{stack.region}", {"private-chat": ECHO_MODEL})
    client = OpenAI(base_url=f"{stack.gateways[0]}/v1", api_key=tenant["keys"]["key1"])
    with pytest.raises(NotFoundError):
        client.chat.completions.create(model="private-chat", messages=[{"role": "user", "content": "hi"}])
    assert sorted(m.id for m in client.models.list()) == ["chat", "echo"]
    theirs = OpenAI(base_url=f"{stack.gateways[0]}/v1", api_key=other["keys"]["key1"])
    assert [m.id for m in theirs.models.list()] == ["private-chat"]
