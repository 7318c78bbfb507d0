"""Topic creation on the real broker: names, partitions, short retention for content, no auto-create."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaTimeoutError, UnknownTopicOrPartitionError

from contracts.registry import TOPICS, all_topic_names
from services.runtime.topics import ONE_HOUR_MS, TopicPolicy, ensure_topics, retention_of
from tests.conftest import unique_region

pytestmark = pytest.mark.kafka


async def test_every_registered_topic_exists_and_content_topics_keep_at_most_the_setting(infra, region) -> None:
    retention = await retention_of(infra.kafka, all_topic_names(region))
    assert set(retention) == set(all_topic_names(region))
    for spec in TOPICS:
        for name in (spec.name(region), spec.dlq_name(region)):
            if spec.carries_content:
                assert retention[name] <= ONE_HOUR_MS, name
            else:
                assert retention[name] == spec.retention_ms_without_content


async def test_a_second_run_is_idempotent_and_applies_a_lower_content_retention(infra) -> None:
    region = unique_region()
    created = await ensure_topics(infra.kafka, region, TopicPolicy(partitions=2))
    assert len(created) == len(all_topic_names(region))
    again = await ensure_topics(infra.kafka, region, TopicPolicy(partitions=2, content_retention_ms=600_000))
    assert again == []
    retention = await retention_of(infra.kafka, all_topic_names(region))
    assert {retention[s.name(region)] for s in TOPICS if s.carries_content} == {600_000}


async def test_the_broker_never_creates_a_topic_implicitly(infra) -> None:
    topic = f"{unique_region()}.nobody.created-this.v1"
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, request_timeout_ms=2000)
    await producer.start()
    try:
        with pytest.raises((KafkaTimeoutError, UnknownTopicOrPartitionError)):
            await producer.send_and_wait(topic, b"x")
    finally:
        await producer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka)
    await admin.start()
    try:
        assert topic not in await admin.list_topics()
    finally:
        await admin.close()
