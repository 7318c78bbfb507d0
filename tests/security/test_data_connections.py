"""Tenant boundary, part 1, on the real stack: each attack on "on your data" that once worked is refused
with a 4xx in the OpenAI error shape, fast, and leaks nothing.

The stack runs the five services against real Kafka and two FerretDB servers: the platform's store
and a separate customer store (the only loopback port data connections may reach, with the tarpit
port below). No test here dials a metadata or private address: refused endpoints are refused
before any socket opens (shown with a connect spy in tests/unit/test_connections_policy.py).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import bson
import httpx
import pytest
from openai import AzureOpenAI, BadRequestError
from pymongo import MongoClient

from contracts.registry import all_topic_names
from services.filter.policy import Blocklist, DirectionPolicy, FilterPolicy, PromptPolicy, ResourcePolicy
from tests.conftest import ECHO_MODEL, TARPIT_PORT
from tests.integration.kafka_tools import read_topic

pytestmark = [pytest.mark.stack, pytest.mark.kafka, pytest.mark.mongo]
API_VERSION = "2024-10-21"
CANARY_PASSWORD = "canary-pw-5f0c1e"
CANARY_IN_REQUEST = "canary-request-pw-9d2b"


def tenant(stack, name: str, **options) -> dict:
    """A resource of its own (IDs unique across the session's shared stack), default filter policy."""
    return stack.create_resource(f"{name}-{uuid.uuid4().hex[:8]}", {"echo": ECHO_MODEL}, **options)


def chat(stack, key: str, parameters: dict, *, content: str = "What causes the tides of the moon?",
         stream: bool = False, gateway: int = 0) -> httpx.Response:
    body = {"messages": [{"role": "user", "content": content}], "stream": stream,
            "data_sources": [{"type": "mongo_db", "parameters": {"collection_name": "articles", **parameters}}]}
    return httpx.post(f"{stack.gateways[gateway]}/openai/deployments/echo/chat/completions",
                      params={"api-version": API_VERSION}, headers={"api-key": key}, json=body, timeout=30)


def assert_refused(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"} and error["code"] == code, error
    return error


@pytest.fixture(scope="module")
def articles(stack) -> str:
    """A database in the customer store (the tenant's own MongoDB)."""
    database = f"kb_{stack.region}"
    with MongoClient(stack.infra.customer_mongo) as customer:
        customer[database]["articles"].insert_many([
            {"_id": "kb-1", "title": "Tides", "content": "Tides are caused by the gravity of the moon."},
            {"_id": "kb-2", "title": "Bread", "content": "Sourdough bread rises thanks to wild yeast."}])
    return database


@pytest.mark.parametrize("database", ["residency_control", "residency_retention_{region}", "residency_filter_{region}"])
def test_the_platforms_own_store_cannot_be_read_as_a_data_source(stack, database):
    attacker = tenant(stack, f"plat-{database.split('_')[1]}")
    database = database.format(region=stack.region.replace("-", "_"))
    registered = stack.create_connection(attacker["resource_id"], "platform", endpoint=stack.infra.mongo,
                                         database_name=database)
    assert_refused(registered, 400, "data_source_refused")
    # The attack as it worked before: the platform's store named straight in the request.
    response = chat(stack, attacker["keys"]["key1"], {
        "endpoint": stack.infra.mongo, "database_name": database, "collection_name": "resources",
        "fields_mapping": {"content_fields": ["region"], "title_field": "_id"}, "strictness": 1})
    assert_refused(response, 400, "data_source_refused")
    assert attacker["resource_id"] not in response.text and "citations" not in response.text


def test_a_platform_database_name_is_refused_even_on_an_allowed_server(stack):
    attacker = tenant(stack, "platdb")
    registered = stack.create_connection(attacker["resource_id"], "sneaky", database_name="residency_control")
    assert_refused(registered, 400, "data_source_refused")


@pytest.mark.parametrize("endpoint", [
    "mongodb://{customer}/?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:k8s",
    "mongodb://{customer}/?authMechanism=MONGODB-AWS",
    "mongodb://{customer}/?tls=true&tlsCAFile=/etc/ssl/certs/ca-certificates.crt",
    "mongodb://{customer}/?tlsCertificateKeyFile=/var/run/secrets/kubernetes.io/serviceaccount/token",
    "mongodb://{customer}/?tlsInsecure=true",
])
def test_unsafe_uri_options_are_refused_within_a_second(stack, endpoint):
    attacker = tenant(stack, "opt")
    endpoint = endpoint.format(customer=stack.infra.customer_mongo.removeprefix("mongodb://").strip("/"))
    began = time.monotonic()
    registered = stack.create_connection(attacker["resource_id"], "opts", endpoint=endpoint, database_name="kb")
    assert_refused(registered, 400, "data_source_refused")
    response = chat(stack, attacker["keys"]["key1"], {"endpoint": endpoint, "database_name": "kb"})
    assert_refused(response, 400, "data_source_refused")
    assert time.monotonic() - began < 1.0


@pytest.mark.parametrize("endpoint", ["169.254.169.254:80", "[fd00:ec2::254]:80", "10.0.0.1:27017",
                                      "192.168.1.10:27017", "127.0.0.1:22", "localhost:6379", "0.0.0.0:27017"])
def test_metadata_and_private_addresses_are_refused_within_a_second(stack, endpoint):
    attacker = tenant(stack, "ssrf")
    began = time.monotonic()
    registered = stack.create_connection(attacker["resource_id"], "inside", endpoint=endpoint, database_name="kb")
    assert_refused(registered, 400, "data_source_refused")
    assert time.monotonic() - began < 1.0


def test_another_tenants_connection_cannot_be_used(stack, articles):
    owner, other = tenant(stack, "owner"), tenant(stack, "other")
    assert stack.create_connection(owner["resource_id"], "kb", database_name=articles).status_code == 201
    by_endpoint = chat(stack, other["keys"]["key1"], {"endpoint": stack.infra.customer_mongo,
                                                      "database_name": articles})
    by_name = chat(stack, other["keys"]["key1"], {"connection": "kb", "database_name": articles})
    for response in (by_endpoint, by_name):
        assert_refused(response, 400, "data_source_not_registered")
        assert "Tides" not in response.text
    owned = chat(stack, owner["keys"]["key1"], {"connection": "kb", "database_name": articles})
    assert owned.status_code == 200, owned.text
    citations = owned.json()["choices"][0]["message"]["context"]["citations"]
    assert [c["chunk_id"] for c in citations] == ["kb-1"]


class Tarpit:
    """A TCP server that accepts connections and never answers (the attack that held retrieval)."""

    def __init__(self, port: int) -> None:
        self._server = socket.create_server(("127.0.0.1", port), reuse_port=True)
        self._server.settimeout(0.2)
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
                self._held.append(connection)
            except TimeoutError:
                continue

    @property
    def accepted(self) -> int:
        return len(self._held)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for connection in self._held:
            connection.close()
        self._server.close()


@pytest.fixture
def tarpit() -> Iterator[Tarpit]:
    server = Tarpit(TARPIT_PORT)
    yield server
    server.close()


async def test_a_silent_server_does_not_stall_on_your_data_for_the_region(stack, articles, tarpit):
    victim, bystander = tenant(stack, "slowpoke"), tenant(stack, "bystander")
    assert stack.create_connection(victim["resource_id"], "tarpit", endpoint=f"127.0.0.1:{TARPIT_PORT}",
                                   database_name="kb").status_code == 201
    assert stack.create_connection(bystander["resource_id"], "kb", database_name=articles).status_code == 201

    async def ask(key: str, parameters: dict) -> tuple[httpx.Response, float]:
        began = time.monotonic()
        response = await asyncio.to_thread(chat, stack, key, parameters)
        return response, time.monotonic() - began

    stalled = [ask(victim["keys"]["key1"], {"connection": "tarpit", "database_name": "kb"}) for _ in range(3)]
    others = [ask(bystander["keys"]["key1"], {"connection": "kb", "database_name": articles}) for _ in range(3)]
    results = await asyncio.gather(*stalled, *others)
    for response, took in results[:3]:
        error = assert_refused(response, 400, response.json()["error"]["code"])
        assert error["code"] in ("data_source_unavailable", "data_source_timeout")
        assert took < 8.0, f"the silent server held its caller {took:.1f} s"
    for response, took in results[3:]:
        assert response.status_code == 200, response.text
        assert took < 8.0, f"a bystander waited {took:.1f} s behind the silent server"
    assert tarpit.accepted >= 1, "the silent server was really asked"


def test_a_filtered_streamed_prompt_releases_no_citations(stack, articles):
    resource = stack.create_resource(f"blocked-{uuid.uuid4().hex[:8]}", {"echo": ECHO_MODEL})
    off = {"hate": "off", "sexual": "off", "violence": "off", "self_harm": "off"}
    stack.put_filter_policy(ResourcePolicy(  # a filter that blocks exactly one word: no classifier verdict involved
        resource_id=resource["resource_id"],
        default=FilterPolicy(prompt=PromptPolicy(**off, jailbreak="annotate", indirect_attack="annotate",
                                                 blocklists=("words",)),
                             completion=DirectionPolicy(**off)),
        blocklists=(Blocklist(id="words", terms=("moonquake",)),)))
    assert stack.create_connection(resource["resource_id"], "kb", database_name=articles).status_code == 201
    client = AzureOpenAI(azure_endpoint=stack.gateways[0], api_key=resource["keys"]["key1"], api_version=API_VERSION)
    source = {"type": "mongo_db", "parameters": {"connection": "kb", "database_name": articles,
                                                 "collection_name": "articles"}}
    with pytest.raises(BadRequestError) as refused:
        list(client.chat.completions.create(
            model="echo", stream=True, extra_body={"data_sources": [source]},
            messages=[{"role": "user", "content": "Does the moonquake change the tides of the moon?"}]))
    assert refused.value.code == "content_filter"
    assert "Tides are caused" not in refused.value.response.text and "kb-1" not in refused.value.response.text
    # The same request without the blocked word streams, its citations after the prompt's annotation.
    chunks = list(client.chat.completions.create(
        model="echo", stream=True, extra_body={"data_sources": [source]},
        messages=[{"role": "user", "content": "What causes the tides of the moon?"}]))
    annotated = next(i for i, c in enumerate(chunks) if getattr(c, "prompt_filter_results", None))
    cited = next(i for i, c in enumerate(chunks) if c.choices and (c.choices[0].delta.model_extra or {}).get("context"))
    assert annotated < cited


async def test_no_credential_on_any_topic_dlq_log_or_store(stack, articles):
    owner = tenant(stack, "canary")
    registered = stack.create_connection(owner["resource_id"], "kb", database_name=articles,
                                         username="reader", password=CANARY_PASSWORD)
    assert registered.status_code == 201 and CANARY_PASSWORD not in registered.text
    # The customer store here (FerretDB v1 on SQLite) has no SCRAM: the read itself fails with a 400,
    # after retrieval opened the sealed password; the request's own password is dropped at the edge.
    response = chat(stack, owner["keys"]["key1"], {
        "endpoint": stack.infra.customer_mongo, "database_name": articles,
        "authentication": {"type": "username_and_password", "username": "reader", "password": CANARY_IN_REQUEST}})
    assert_refused(response, 400, "data_source_unavailable")
    malformed = chat(stack, owner["keys"]["key1"], {"endpoint": "mongodb://reader:" + CANARY_IN_REQUEST + "@" +
                                                    stack.infra.customer_mongo.removeprefix("mongodb://"),
                                                    "database_name": "residency_control"})
    assert_refused(malformed, 400, "data_source_refused")

    canaries = (CANARY_PASSWORD.encode(), CANARY_IN_REQUEST.encode())
    for topic in all_topic_names(stack.region):
        for record in await read_topic(stack.infra.kafka, topic, timeout_s=20):
            raw = (record.value or b"") + b"".join(value for _, value in (record.headers or ()))
            assert not any(canary in raw for canary in canaries), f"a credential is on {topic}"
    for log in stack.logs.glob("*.log"):
        text = log.read_bytes()
        assert not any(canary in text for canary in canaries), f"a credential is in {log.name}"
    with MongoClient(stack.infra.mongo) as platform:
        for database in platform.list_database_names():
            for collection in platform[database].list_collection_names():
                for document in platform[database][collection].find():
                    encoded = bson.encode(document)
                    assert not any(canary in encoded for canary in canaries), f"in clear in {database}.{collection}"
    stored = json.dumps(registered.json())
    assert "reader" in stored and CANARY_PASSWORD not in stored
