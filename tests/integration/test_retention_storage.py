"""Storing on the real broker and store: isolation, encryption, content logging off, duplicates,
and the content topics' retention. One named test per promise."""

from __future__ import annotations

import bson
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from contracts import interaction_records
from contracts.base import topic_name
from contracts.registry import TOPICS
from services.retention.app import create_app
from services.retention.records import associated_data, document_to_sealed
from services.retention.topic_guard import overlong_content_topics
from services.runtime.topics import retention_of
from tests.integration.kafka_tools import read_topic
from tests.integration.retention_harness import interaction, publish, running

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]
CANARY = "canary-6d1f0b7e-must-never-be-stored"


@pytest.fixture(scope="module")
async def harness(infra, tmp_path_factory):
    async with running(infra, tmp_path_factory.mktemp("storage")) as harness:
        yield harness


async def test_cross_region_isolation(infra, tmp_path) -> None:
    async with running(infra, tmp_path / "a") as eu, running(infra, tmp_path / "b", eea=False) as us:
        assert eu.settings.store.database != us.settings.store.database
        await eu.store(interaction(eu.region, "contoso", "eu-request-1"))
        await us.store(interaction(us.region, "contoso", "us-request-1"))
        # A record naming the other region, published on this region's topic, is refused.
        stray = interaction(us.region, "contoso", "stray-request-1", text=CANARY)
        await publish(infra.kafka, stray, topic_region=eu.region)
        source = topic_name(interaction_records.TOPIC, eu.region)
        letters = await read_topic(infra.kafka, source + ".dlq", until=lambda r: len(r) >= 1)

        assert [dict(r.headers)["dlq-error-type"] for r in letters] == [b"WrongRegion"]
        for harness in (eu, us):
            assert await harness.db["records"].count_documents({"request_id": "stray-request-1"}) == 0
        assert {d["region"] for d in await eu.db["records"].find().to_list()} == {eu.region}
        assert {d["region"] for d in await us.db["records"].find().to_list()} == {us.region}
        async with us.reviewer("alice") as alice:  # the other region's review API cannot see it at all
            missing = await alice.get("/review/records/contoso/eu-request-1")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def test_cross_resource_isolation(harness) -> None:
    contoso = await harness.store_flagged("contoso", "same-id")
    fabrikam = await harness.store_flagged("fabrikam", "same-id", user="user-2")
    assert contoso == fabrikam, "both resources use the same request IDs"
    keys = await harness.db["data_keys"].find({"resource_id": {"$in": ["contoso", "fabrikam"]}}).to_list()
    assert len({k["_id"] for k in keys}) == len(keys) >= 2
    assert {k["resource_id"] for k in keys} == {"contoso", "fabrikam"}

    grant_id = await harness.granted("contoso", contoso[0])
    async with harness.reviewer("alice") as alice:
        other = await alice.get(f"/review/records/fabrikam/{contoso[0]}", headers={"x-review-grant": grant_id})
    assert other.status_code == 403 and other.json()["error"]["code"] == "grant_other_record"

    # Contoso's sealed content moved into fabrikam's record does not open there.
    moved = await harness.db["records"].find_one({"resource_id": "contoso", "request_id": contoso[1]})
    await harness.db["records"].update_one({"resource_id": "fabrikam", "request_id": fabrikam[1]},
                                           {"$set": {"content": moved["content"]}})
    fabrikam_grant = await harness.granted("fabrikam", fabrikam[1])
    async with harness.reviewer("alice") as alice:
        read = await alice.get(f"/review/records/fabrikam/{fabrikam[1]}", headers={"x-review-grant": fabrikam_grant})
    assert read.status_code == 422 and read.json()["error"]["code"] == "unreadable_record"
    assert "answer" not in read.text


async def test_tampered_ciphertext_rejected(harness) -> None:
    [target, *_] = await harness.store_flagged("contoso", "tampered")
    grant_id = await harness.granted("contoso", target)
    record = await harness.db["records"].find_one({"resource_id": "contoso", "request_id": target})
    altered = bytearray(record["content"]["ciphertext"])
    altered[0] ^= 0x01
    await harness.db["records"].update_one({"_id": record["_id"]},
                                           {"$set": {"content.ciphertext": bson.Binary(bytes(altered))}})
    async with harness.reviewer("alice") as alice:
        read = await alice.get(f"/review/records/contoso/{target}", headers={"x-review-grant": grant_id})
    assert read.status_code == 422 and read.json()["error"]["code"] == "unreadable_record"
    assert "answer" not in read.text and "prompt" not in read.text
    entry = (await harness.audit_entries())[-1]["event"]
    assert (entry["action"], entry["outcome"], entry["reason"]) == ("read-record", "refused", "unreadable_record")


async def test_content_logging_off_stores_nothing(harness) -> None:
    quiet = [interaction(harness.region, "quiet", f"quiet-request-{i}", text=CANARY, content_logging=False)
             for i in range(3)]
    await harness.store(*quiet)
    records = await harness.db["records"].find({"resource_id": "quiet"}).to_list()
    assert len(records) == 3 and all(r["content"] is None and r["content_logging"] is False for r in records)
    assert await harness.db["data_keys"].count_documents({"resource_id": "quiet"}) == 0
    for name in await harness.db.list_collection_names():
        for document in await harness.db[name].find().to_list():
            assert CANARY.encode() not in bson.encode(document), f"canary found in {name}"


async def test_a_duplicate_delivery_stores_nothing_twice(harness) -> None:
    first = interaction(harness.region, "contoso", "duplicate-request-1", text="first")
    await harness.store(first)
    await harness.store(first, interaction(harness.region, "contoso", "duplicate-request-1", text="second"),
                        interaction(harness.region, "contoso", "after-duplicates-1"))
    assert await harness.db["records"].count_documents({"request_id": "duplicate-request-1"}) == 1
    record = await harness.db["records"].find_one({"request_id": "duplicate-request-1"})
    opened = await harness.service.ports.keyring.open("contoso", document_to_sealed(record["content"]),
                                                      associated_data("contoso", "duplicate-request-1"))
    assert b"answer: first" in opened and b"second" not in opened


async def test_no_content_topic_keeps_longer_than_the_setting(infra, harness) -> None:
    limit = harness.settings.content_topic_retention_ms
    content_topics = [n for s in TOPICS if s.carries_content
                      for n in (s.name(harness.region), s.dlq_name(harness.region))]
    retention = await retention_of(infra.kafka, content_topics)
    assert set(retention) == set(content_topics) and max(retention.values()) <= limit
    assert await overlong_content_topics(infra.kafka, harness.region, limit) == {}

    # One topic re-configured to keep content for a day: found, and the service refuses to start.
    topic = topic_name(interaction_records.TOPIC, harness.region) + ".dlq"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, {"retention.ms": "86400000"})])
    finally:
        await admin.close()
    assert await overlong_content_topics(infra.kafka, harness.region, limit) == {topic: 86_400_000}
    with pytest.raises(SystemExit, match="content topics keep messages longer"):
        await create_app(harness.settings).start()
