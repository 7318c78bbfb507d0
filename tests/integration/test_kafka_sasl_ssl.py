"""Kafka over SASL_SSL as a setting of the services: the local broker's second listener (a throw-away
CA, a PLAIN user; deploy/local/kafka/sasl_ssl.py) reached through ``ServiceSettings`` exactly as a
service reaches it: the start-up topic check, and the bus (acks=all, idempotent) both ways."""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from contracts import prompt_submissions
from contracts.base import topic_name
from services.runtime.bus import make_broker
from services.runtime.settings import ServiceSettings
from services.runtime.startup import require_topics
from services.runtime.topics import TopicPolicy, ensure_topics
from tests.conftest import ROOT, unique_region

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def listener(infra) -> dict:
    instance = os.environ.get("RESIDENCY_INFRA_INSTANCE", "test")
    client = ROOT / ".data" / instance / "kafka" / "sasl-ssl" / "client.json"
    if not client.exists():
        pytest.skip(f"no SASL_SSL listener of deploy/local/infra.sh here ({client})")
    return json.loads(client.read_text())


def secure(listener: dict, **changes) -> ServiceSettings:
    values = {"region": "eu-west", "kafka_bootstrap": listener["bootstrap"], "kafka_security_protocol": "SASL_SSL",
              "kafka_sasl_mechanism": listener["mechanism"], "kafka_sasl_username": listener["username"],
              "kafka_sasl_password": listener["password"], "kafka_ssl_ca_file": listener["ca_file"]}
    return ServiceSettings(**{**values, **changes})


async def test_a_service_checks_its_topics_and_uses_the_bus_over_sasl_ssl(infra, listener):
    region = unique_region()
    await ensure_topics(infra.kafka, region, TopicPolicy(partitions=1))  # made over the plaintext listener
    settings = secure(listener, region=region)
    topic = topic_name(prompt_submissions.TOPIC, region)
    await require_topics(settings.kafka_bootstrap, [topic], **settings.kafka_client_options())

    broker = make_broker(settings.kafka_bootstrap, service="sasl-test", security=settings.kafka_security())
    received: asyncio.Queue[bytes] = asyncio.Queue()

    @broker.subscriber(topic, group_id=f"{region}.sasl", auto_offset_reset="earliest")
    async def on_message(body: bytes) -> None:
        await received.put(body)

    async with broker:
        await broker.start()
        await broker.publish(b"over SASL_SSL", topic=topic, key=b"r1")
        assert await asyncio.wait_for(received.get(), 30) == b"over SASL_SSL"


async def test_a_wrong_password_is_refused(listener):
    settings = secure(listener, kafka_sasl_password="not-the-password")
    with pytest.raises(KafkaError):
        async with asyncio.timeout(30):
            await require_topics(settings.kafka_bootstrap, [], **settings.kafka_client_options())


async def test_a_broker_certificate_from_an_untrusted_ca_is_refused(listener):
    # No CA file: the system's trust store, which never signed the local broker's certificate.
    settings = secure(listener, kafka_ssl_ca_file=None)
    with pytest.raises(KafkaError):
        async with asyncio.timeout(30):
            await require_topics(settings.kafka_bootstrap, [], **settings.kafka_client_options())


async def test_a_plaintext_client_cannot_use_the_sasl_ssl_listener(listener):
    with pytest.raises(KafkaError):
        async with asyncio.timeout(30):
            await require_topics(listener["bootstrap"], [])


def test_sasl_ssl_without_credentials_is_refused_at_start_up():
    with pytest.raises(ValidationError, match="KAFKA_SASL_USERNAME"):
        ServiceSettings(kafka_security_protocol="SASL_SSL")
    assert "not-shown" not in repr(ServiceSettings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="u",
                                                   kafka_sasl_password="not-shown"))


async def test_the_dead_letter_tool_reads_and_replays_over_sasl_ssl(infra, listener, monkeypatch):
    from aiokafka import AIOKafkaProducer

    from contracts.base import utc_now
    from contracts.dead_letters import DeadLetter
    from services.ops import dlq_cli
    from services.runtime.connection_security import OperatorSettings

    region = unique_region()
    await ensure_topics(infra.kafka, region, TopicPolicy(partitions=1))
    source = topic_name(prompt_submissions.TOPIC, region)
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka)
    await producer.start()
    try:
        letter = DeadLetter(source_topic=source, source_partition=0, source_offset=0, consumer="filter",
                            error_type="ValueError", error="ValueError", failed_at=utc_now())
        await producer.send_and_wait(source + ".dlq", b"a poison message", key=b"r1",
                                     headers=[(k, v.encode()) for k, v in letter.to_headers().items()])
    finally:
        await producer.stop()
    for name, value in (("KAFKA_SECURITY_PROTOCOL", "SASL_SSL"), ("KAFKA_SASL_MECHANISM", listener["mechanism"]),
                        ("KAFKA_SASL_USERNAME", listener["username"]), ("KAFKA_SASL_PASSWORD", listener["password"]),
                        ("KAFKA_SSL_CA_FILE", listener["ca_file"])):
        monkeypatch.setenv(f"RESIDENCY_OPS_{name}", value)
    security = OperatorSettings().kafka_client_options()
    assert security["security_protocol"] == "SASL_SSL"
    assert await dlq_cli.inspect(listener["bootstrap"], source + ".dlq", **security) == 1
    assert await dlq_cli.replay(listener["bootstrap"], source + ".dlq", **security) == 1
