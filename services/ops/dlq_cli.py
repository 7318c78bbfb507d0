"""Reads dead-letter topics: ``inspect`` lists what failed and why, ``replay`` sends it back.

    residency-dlq inspect <region>.<domain>.<noun>.v1.dlq [--bootstrap HOST:PORT]
    residency-dlq replay  <region>.<domain>.<noun>.v1.dlq [--bootstrap HOST:PORT]

The broker's TLS/SASL come from the same settings as the services', under ``RESIDENCY_OPS_``
(``RESIDENCY_OPS_KAFKA_SECURITY_PROTOCOL=SASL_SSL``, ``..._KAFKA_SASL_USERNAME``, ``..._KAFKA_SSL_CA_FILE``, ...).

``inspect`` shows metadata only (source offset, consumer, error, body size), never the body:
a dead letter can hold customer content. ``replay`` republishes each message, with its key and
original headers, to its source topic, and commits in its own consumer group only after the
broker acknowledged the copy, so a second replay does not send anything twice.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from contracts.dead_letters import DLQ_SUFFIX, HEADERS, DeadLetter
from services.runtime.connection_security import OperatorSettings

REPLAY_GROUP = "residency-dlq-replay"


def _headers(record: ConsumerRecord[bytes | None, bytes | None]) -> dict[str, str]:
    return {k: v.decode(errors="replace") for k, v in (record.headers or ())}


async def _drain(consumer: AIOKafkaConsumer) -> AsyncIterator[ConsumerRecord[bytes | None, bytes | None]]:
    """Yields every record of the consumer's assignment up to the end offsets taken at start."""
    async with asyncio.timeout(30):
        while not consumer.assignment():
            await asyncio.sleep(0.05)
    ends = await consumer.end_offsets(list(consumer.assignment()))
    while any([await consumer.position(tp) < end for tp, end in ends.items()]):
        batches = await consumer.getmany(timeout_ms=1000)
        for records in batches.values():
            for record in records:
                yield record


async def inspect(bootstrap: str, topic: str, **security: Any) -> int:
    """``security``: aiokafka's TLS/SASL keyword arguments (``OperatorSettings().kafka_client_options()``)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", **security)
    await consumer.start()
    count = 0
    try:
        async for record in _drain(consumer):
            letter = DeadLetter.from_headers(_headers(record))
            print(f"{record.partition}@{record.offset}: from {letter.source_topic}[{letter.source_partition}]"
                  f"@{letter.source_offset} consumer={letter.consumer} {letter.error_type}: {letter.error} "
                  f"at {letter.failed_at.isoformat()} ({len(record.value or b'')} bytes)")
            count += 1
    finally:
        await consumer.stop()
    print(f"{count} dead letters in {topic}", file=sys.stderr)
    return count


async def replay(bootstrap: str, topic: str, **security: Any) -> int:
    source = topic.removesuffix(DLQ_SUFFIX)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=REPLAY_GROUP,
                                enable_auto_commit=False, auto_offset_reset="earliest", **security)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, **security)
    await consumer.start()
    await producer.start()
    count = 0
    try:
        async for record in _drain(consumer):
            headers = [(k, v) for k, v in (record.headers or ()) if k not in HEADERS.values()]
            await producer.send_and_wait(source, record.value, key=record.key, headers=headers)
            await consumer.commit({TopicPartition(record.topic, record.partition): record.offset + 1})
            count += 1
    finally:
        await producer.stop()
        await consumer.stop()
    print(f"replayed {count} messages from {topic} to {source}", file=sys.stderr)
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["inspect", "replay"])
    parser.add_argument("topic", help="a dead-letter topic (<source topic>.dlq)")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    args = parser.parse_args(argv)
    if not args.topic.endswith(DLQ_SUFFIX):
        parser.error(f"{args.topic} is not a dead-letter topic (it must end in {DLQ_SUFFIX})")
    action = inspect if args.command == "inspect" else replay
    asyncio.run(action(args.bootstrap, args.topic, **OperatorSettings().kafka_client_options()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
