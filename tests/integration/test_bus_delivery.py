"""Delivery settings and keys on the real broker."""

from __future__ import annotations

import pytest

from contracts import generation_cancellations
from contracts.generation_cancellations import CancelGeneration
from services.runtime.bus import TopicPublisher, make_broker
from services.runtime.errors import RegionMismatch
from tests.contract.suite import ENVELOPE
from tests.integration.kafka_tools import read_topic

pytestmark = pytest.mark.kafka


async def test_producers_use_acks_all_and_the_idempotent_producer(infra) -> None:
    broker = make_broker(infra.kafka, service="test")
    await broker.start()
    try:
        producer = broker.config.producer._producer.producer
        assert producer._sender._acks == -1  # acks=all
        assert producer._txn_manager is not None and producer._txn_manager.producer_id >= 0
    finally:
        await broker.stop()


async def test_one_resource_stays_on_one_partition_in_order_and_regions_do_not_mix(infra, region) -> None:
    broker = make_broker(infra.kafka, service="test")
    publisher = TopicPublisher(broker, generation_cancellations.TOPIC, region)
    await broker.start()
    try:
        for i in range(12):
            resource = "contoso" if i % 2 == 0 else "fabrikam"
            await publisher.publish(CancelGeneration(**{**ENVELOPE, "region": region, "resource_id": resource,
                                                        "request_id": f"request-{i:04d}"}, reason="timeout"))
        with pytest.raises(RegionMismatch):
            await publisher.publish(CancelGeneration(**ENVELOPE, reason="timeout"))  # region eu-west
    finally:
        await broker.stop()
    records = await read_topic(infra.kafka, publisher.topic, until=lambda r: len(r) >= 12)
    assert len(records) == 12, "the eu-west message must not have been published"
    by_resource: dict[bytes, set[int]] = {}
    for record in records:
        by_resource.setdefault(record.key, set()).add(record.partition)
    assert by_resource.keys() == {b"contoso", b"fabrikam"}
    assert all(len(partitions) == 1 for partitions in by_resource.values())
    contoso = [CancelGeneration.model_validate_json(r.value).request_id for r in records if r.key == b"contoso"]
    assert contoso == sorted(contoso)
