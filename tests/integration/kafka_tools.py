"""Small real-Kafka helper for the tests: read a topic from the start."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord


async def _assigned(topic: str, bootstrap: str) -> AIOKafkaConsumer:
    """A group-less consumer of every partition of ``topic``, positioned at the beginning."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    async with asyncio.timeout(10):
        while not consumer.assignment():
            await asyncio.sleep(0.05)
    return consumer


async def read_topic(bootstrap: str, topic: str, *, until: Callable[[list[ConsumerRecord]], bool] | None = None,
                     timeout_s: float = 15.0) -> list[ConsumerRecord]:
    """All records of ``topic`` from the beginning, waiting (up to ``timeout_s``) until ``until`` holds."""
    consumer = await _assigned(topic, bootstrap)
    records: list[ConsumerRecord] = []
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    records.extend(batch)
                ends = await consumer.end_offsets(list(consumer.assignment()))
                caught_up = all([await consumer.position(tp) >= end for tp, end in ends.items()])
                if caught_up and (until is None or until(records)):
                    return records
    finally:
        await consumer.stop()

