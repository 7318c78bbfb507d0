"""Load bench of the retention service (``just bench retention``): records stored per second and
consumer lag while interactions arrive at a fixed rate. Loopback only; prints figures, asserts none.

    python -m services.retention.bench --kafka 127.0.0.1:39592 --mongo mongodb://127.0.0.1:38517/ \\
        [--rate 1000] [--seconds 10] [--partitions 3] [--signal-every 50]

It creates a fresh region (topics, database), starts ``python -m services.retention`` as its own
process, publishes ``rate`` interactions per second for ``seconds`` over 7 resources and 97 end
users (1 in ``signal-every`` with a jailbreak result, so flagging runs too), samples the group's
committed offsets (it commits only after storing) and its lag every second, waits (bounded) for
the backlog to drain, and counts the records in the store at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from contracts import interaction_records
from contracts.base import topic_name
from contracts.common import ChatMessage
from contracts.interaction_records import InteractionCompleted
from services.runtime.topics import TopicPolicy, ensure_topics

JAILBREAK = {"jailbreak": {"filtered": True, "detected": True}}


def event(region: str, i: int, signal_every: int) -> bytes:
    now = datetime.now(UTC)
    return InteractionCompleted(
        request_id=f"bench-{i:09d}", resource_id=f"bench-resource-{i % 7}", region=region, deployment="chat",
        created_at=now, reply_to="bench", completed_at=now, status=200, end_user=f"user-{i % 97}",
        content_logging=True, messages=[ChatMessage(role="user", content=f"benchmark prompt number {i} " * 8)],
        completions=[f"benchmark answer number {i} " * 12], finish_reasons=["stop"],
        prompt_filter_results=[JAILBREAK if signal_every and i % signal_every == 0 else {}]).model_dump_json().encode()


def start_service(region: str, kafka: str, mongo: str, logs: Path) -> tuple[subprocess.Popen, Path]:
    ready = logs / f"retention-{region}.ready"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESIDENCY_")}
    env.update({"RESIDENCY_RETENTION_REGION": region, "RESIDENCY_RETENTION_KAFKA_BOOTSTRAP": kafka,
                "RESIDENCY_RETENTION_MONGO_URI": mongo, "RESIDENCY_RETENTION_READY_FILE": str(ready),
                "RESIDENCY_RETENTION_PLATFORM_KEY": base64.b64encode(os.urandom(32)).decode(),
                "RESIDENCY_RETENTION_LOG_LEVEL": "WARNING", "OMP_NUM_THREADS": "1"})
    log = open(logs / f"retention-{region}.log", "ab")  # noqa: SIM115 - the child writes to it until it ends
    process = subprocess.Popen([sys.executable, "-m", "services.retention"], env=env, stdout=log, stderr=log)
    return process, ready


async def progress(admin: AIOKafkaAdminClient, ends: AIOKafkaConsumer, group: str, topic: str) -> tuple[int, int]:
    """(messages committed by the group, consumer lag). The group commits only after storing, so
    committed messages are stored ones; counting the store itself would load it (FerretDB scans)."""
    committed = await admin.list_consumer_group_offsets(group)
    partitions = [tp for tp in ends.assignment() if tp.topic == topic]
    end_offsets = await ends.end_offsets(partitions)
    done = {tp: committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0 for tp in partitions}
    return sum(done.values()), sum(end - done[tp] for tp, end in end_offsets.items())


async def produce(producer: AIOKafkaProducer, topic: str, region: str, rate: int, seconds: int,
                  signal_every: int, sent: list[int]) -> None:
    """Paced in 10 ms ticks; each tick's sends are awaited (acks=all) before the next tick."""
    began = time.monotonic()
    total = rate * seconds
    while sent[0] < total:
        due = min(total, int((time.monotonic() - began) * rate) + 1)
        batch = [await producer.send(topic, event(region, i, signal_every), key=f"bench-resource-{i % 7}".encode())
                 for i in range(sent[0], due)]
        await asyncio.gather(*batch)
        sent[0] = due
        await asyncio.sleep(0.01)


async def run(kafka: str, mongo: str, rate: int, seconds: int, partitions: int, signal_every: int,
              logs: Path) -> None:
    region = f"bench{uuid.uuid4().hex[:8]}"
    topic = topic_name(interaction_records.TOPIC, region)
    await ensure_topics(kafka, region, TopicPolicy(partitions=partitions))
    process, ready = start_service(region, kafka, mongo, logs)
    client: AsyncMongoClient = AsyncMongoClient(mongo)
    records = client[f"residency_retention_{region}"]["records"]
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    ends = AIOKafkaConsumer(topic, bootstrap_servers=kafka, group_id=None)
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", enable_idempotence=True, linger_ms=5)
    try:
        async with asyncio.timeout(60):
            while not ready.exists():
                if process.poll() is not None:
                    raise SystemExit(f"retention stopped during start-up; see {logs}")
                await asyncio.sleep(0.1)
        await admin.start()
        await ends.start()
        await producer.start()
        print(f"retention bench: region {region}, {partitions} partitions, target {rate} req/s for {seconds} s")
        print(f"{'t (s)':>6} {'sent':>8} {'stored':>8} {'stored/s':>9} {'lag':>7}")
        sent = [0]
        producing = asyncio.create_task(produce(producer, topic, region, rate, seconds, signal_every, sent))
        began, previous, peak_lag, samples = time.monotonic(), 0, 0, []
        deadline = began + seconds + 120  # bounded: the backlog gets two minutes to drain
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            stored, current_lag = await progress(admin, ends, f"{region}.retention", topic)
            peak_lag = max(peak_lag, current_lag)
            samples.append(stored - previous)
            print(f"{time.monotonic() - began:6.1f} {sent[0]:8d} {stored:8d} {stored - previous:9d} {current_lag:7d}")
            previous = stored
            if producing.done() and stored >= rate * seconds and current_lag == 0:
                break
        producing.cancel()
        elapsed = time.monotonic() - began
        in_store = await records.count_documents({})
        busy = [s for s in samples if s > 0]
        print(f"stored {previous} of {rate * seconds} ({in_store} records in the store) in {elapsed:.1f} s: "
              f"{previous / elapsed:.0f} records/s overall, "
              f"{sum(busy) / max(len(busy), 1):.0f} records/s while busy, peak {max(samples, default=0)}/s; "
              f"consumer lag peak {peak_lag}, final {current_lag}")
    finally:
        await producer.stop()
        await ends.stop()
        await admin.close()
        process.terminate()
        process.wait(timeout=30)
        await client.drop_database(f"residency_retention_{region}")
        await client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kafka", required=True)
    parser.add_argument("--mongo", required=True)
    parser.add_argument("--rate", type=int, default=1000, help="interactions per second")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--signal-every", type=int, default=50,
                        help="one interaction in N carries a jailbreak result (0: none)")
    parser.add_argument("--logs", type=Path, default=Path(".data/bench-logs"))
    args = parser.parse_args(argv)
    args.logs.mkdir(parents=True, exist_ok=True)
    asyncio.run(run(args.kafka, args.mongo, args.rate, args.seconds, args.partitions, args.signal_every, args.logs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
