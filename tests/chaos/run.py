"""The fault-injection suite: one fault per run under a bounded load, one table row per run.

    python -m tests.chaos.run [--only NAME ...]      (just chaos: its own infra instance)

Two replicas of every bus service and two gateways on the echo engine (tests/chaos/stack.py);
a loopback load generator (tests/chaos/load.py) keeps requests flowing while the fault strikes
a few seconds into the run, and for 15 s after the fault's last step. Per run it prints:

- sent, ok, error (explicit errors, connection resets included), unanswered (must be 0),
  wrong (answers duplicated, mixed or of another caller; must be 0);
- retention: records of the requests answered OK, against how many there were (must match;
  a request whose gateway was killed while it waited is counted apart, ``killed``);
- DLQ: messages dead-lettered during the run (only the poison run may add any, and only poison);
- recovery: seconds from the fault until the last disturbed answer (an error, or slower than 5 s).

The last run, ``overload``, has no fault: 48 callers (joining over 20 s) ask for long answers, more than the two
inference replicas' windows (4 requests each) can serve, so the gateways' load shedding
(services/gateway/shedding.py) answers the excess with 503/429 and Retry-After.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pymongo import AsyncMongoClient

from contracts.registry import TOPICS
from tests.chaos.load import Load, Outcome
from tests.chaos.stack import BUS_SERVICES, ROOT, ChaosStack, say

POISON = b"\x00chaos-poison: not a message"
Fault = Callable[[ChaosStack], Awaitable[str]]


async def _in_thread(function: Callable[..., object], *args: object) -> object:
    return await asyncio.to_thread(function, *args)


def kill_and_restart(name: str) -> Fault:
    async def fault(stack: ChaosStack) -> str:
        replica = stack.replicas[name]
        stack.signal(replica, signal.SIGKILL)
        await _in_thread(stack.wait_exit, replica)
        took = await _in_thread(stack.restart, replica)
        return f"{name} back in {took:.0f} s"
    return fault


def rolling_restart(service: str) -> Fault:
    async def fault(stack: ChaosStack) -> str:
        notes = []
        for replica in [r for r in stack.replicas.values() if r.service == service]:
            began = time.monotonic()
            stack.signal(replica, signal.SIGTERM)
            code = await _in_thread(stack.wait_exit, replica)
            stopped = time.monotonic() - began
            await _in_thread(stack.restart, replica)
            notes.append(f"{replica.name} exit {code} in {stopped:.0f} s")
        return ", ".join(notes)
    return fault


def infra_restart(name: str) -> Fault:
    async def fault(stack: ChaosStack) -> str:
        await _in_thread(stack.kill_infra, name)
        await asyncio.sleep(3)
        began = time.monotonic()
        await _in_thread(stack.infra_up)
        return f"{name} back in {time.monotonic() - began:.0f} s"
    return fault


def pause(name: str, seconds: float) -> Fault:
    async def fault(stack: ChaosStack) -> str:
        replica = stack.replicas[name]
        stack.signal(replica, signal.SIGSTOP)
        await asyncio.sleep(seconds)
        stack.signal(replica, signal.SIGCONT)
        return f"{name} paused {seconds:.0f} s"
    return fault


def region_topics(region: str) -> list[str]:
    return [spec.name(region) for spec in TOPICS]


def dlq_topics(region: str) -> list[str]:
    return [spec.dlq_name(region) for spec in TOPICS]


async def poison(stack: ChaosStack) -> str:
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for topic in region_topics(stack.region):
            await producer.send_and_wait(topic, POISON, key=b"chaos-0")
    finally:
        await producer.stop()
    return f"{len(region_topics(stack.region))} poison messages"


FAULTS: dict[str, tuple[str, Fault]] = {
    **{f"kill-{s}": (f"kill -9 + restart {s}-1", kill_and_restart(f"{s}-1")) for s in (*BUS_SERVICES, "gateway")},
    **{f"sigterm-{s}": (f"SIGTERM rolling restart of {s}", rolling_restart(s)) for s in (*BUS_SERVICES, "gateway")},
    "broker": ("Kafka broker kill -9 + restart", infra_restart("kafka")),
    "store": ("store (FerretDB) kill -9 + restart", infra_restart("ferretdb")),
    "poison": ("poison message on every topic", poison),
    "sigstop-inference": ("SIGSTOP inference-1 past the session timeout", pause("inference-1", 20)),
    "sigstop-filter": ("SIGSTOP filter-1 past the session timeout", pause("filter-1", 20)),
}


@dataclass
class Row:
    name: str
    fault: str
    note: str
    outcomes: list[Outcome]
    records: int
    ok_with_id: int
    killed: int
    dlq: int
    dlq_poison: int
    recovery_s: float

    def count(self, kind: str) -> int:
        return sum(1 for o in self.outcomes if o.kind == kind)


async def dlq_ends(stack: ChaosStack) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in dlq_topics(stack.region)
                      for p in (consumer.partitions_for_topic(t) or await _partitions(consumer, t))]
        return await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()


async def dlq_added(stack: ChaosStack, before: dict[TopicPartition, int]) -> tuple[int, int]:
    """Records dead-lettered since ``before``, and how many of them are the poison message."""
    after = await dlq_ends(stack)
    added = {tp: after[tp] - before.get(tp, 0) for tp in after if after[tp] > before.get(tp, 0)}
    if not added:
        return 0, 0
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka, enable_auto_commit=False)
    await consumer.start()
    poisoned = total = 0
    try:
        consumer.assign(list(added))
        for tp in added:
            consumer.seek(tp, before.get(tp, 0))
        async with asyncio.timeout(20):
            while total < sum(added.values()):
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        if record.offset < after[TopicPartition(record.topic, record.partition)]:
                            total += 1
                            poisoned += record.value == POISON
    finally:
        await consumer.stop()
    return total, poisoned


async def retention_records(stack: ChaosStack, request_ids: list[str]) -> int:
    """Records of these requests in the region's retention store, once their number stops growing."""
    client: AsyncMongoClient = AsyncMongoClient(stack.mongo, serverSelectionTimeoutMS=5000)
    database = f"residency_retention_{stack.region.replace('-', '_')}"
    seen, stable_since = -1, time.monotonic()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                found = await client[database]["records"].count_documents({"request_id": {"$in": request_ids}})
            except Exception:  # noqa: BLE001 - the store is restarting: ask again
                found = seen
            if found != seen:
                seen, stable_since = found, time.monotonic()
            elif found == len(request_ids) or time.monotonic() - stable_since > 8:
                break
            await asyncio.sleep(1)
    finally:
        await client.close()
    return seen


async def one_run(stack: ChaosStack, name: str, keys: list[str], *, workers: int = 4, words: int = 0,
                  fault_after_s: float = 5, after_fault_s: float = 15, ramp_s: float = 0) -> Row:
    label, fault = FAULTS.get(name, ("overload", None))
    say(f"run {name}: {label}")
    before = await dlq_ends(stack)
    gateways = [f"http://127.0.0.1:{g.port}" for g in stack.gateways]
    load = Load(gateways, keys, run=name.replace("-", ""), workers=workers, words=words, ramp_s=ramp_s)
    stop = asyncio.Event()
    running = asyncio.create_task(load.run_until(stop))
    await asyncio.sleep(fault_after_s)
    struck = time.monotonic()
    note = await fault(stack) if fault is not None else f"{workers} callers, answers of {words} words"
    await asyncio.sleep(after_fault_s)
    stop.set()
    outcomes = await running
    gateway_killed = name == "kill-gateway"
    # A request whose gateway was killed while it waited was never answered by a live gateway.
    killed = [o for o in outcomes if gateway_killed and o.gateway == 0 and o.detail not in ("", "refused")
              and o.kind == "error" and o.status is None]
    ok_ids = [o.request_id for o in outcomes if o.kind == "ok" and o.request_id]
    records = await retention_records(stack, ok_ids)
    dlq, dlq_poison = await dlq_added(stack, before)
    disturbed = [o.done_at for o in outcomes if o.disturbed and o.done_at >= struck]
    recovery = max(disturbed) - struck if disturbed else 0.0
    errors = Counter(o.detail for o in outcomes if o.kind == "error")
    if errors:
        note += "; errors: " + ", ".join(f"{k} {v}" for k, v in errors.most_common())
    if fault is None:  # overload: how long the answered ones waited
        waits = sorted(o.done_at - o.sent_at for o in outcomes if o.kind == "ok")
        if waits:
            note += f"; ok answered in p50 {waits[len(waits) // 2]:.1f} s, max {waits[-1]:.1f} s"
    row = Row(name, label, note, outcomes, records, len(ok_ids), len(killed), dlq, dlq_poison, recovery)
    say(f"  {format_row(row)}")
    details = sorted({f"{o.kind}:{o.detail}" for o in outcomes if o.kind != "ok"})
    if details:
        say(f"  not ok: {', '.join(details)}")
    return row


HEADER = ("| run | fault | sent | ok | error | unanswered (0) | wrong (0) | retention records / ok | "
          "DLQ (poison) | recovery s | note |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")


def format_row(row: Row) -> str:
    return (f"| {row.name} | {row.fault} | {len(row.outcomes)} | {row.count('ok')} | {row.count('error')}"
            f"{f' ({row.killed} killed)' if row.killed else ''} | {row.count('unanswered')} | {row.count('wrong')} | "
            f"{row.records} / {row.ok_with_id} | {row.dlq} ({row.dlq_poison}) | {row.recovery_s:.1f} | {row.note} |")


async def create_resources(stack: ChaosStack, count: int) -> list[str]:
    import httpx

    keys = []
    async with httpx.AsyncClient(base_url=stack.admin_url, timeout=30,
                                 headers={"authorization": f"Bearer {stack.keys()['ADMIN_KEY']}"}) as admin:
        for i in range(count):
            response = await admin.post("/admin/resources", json={
                "resource_id": f"chaos-{i}", "region": stack.region, "content_logging": True, "limits": {},
                "deployments": [{"name": "chat", "model": "echo"}]})
            response.raise_for_status()
            keys.append(response.json()["keys"]["key1"])
    return keys


async def main(names: list[str]) -> int:
    offset = int(os.environ.get("RESIDENCY_CHAOS_PORT_OFFSET", "0"))
    stack = ChaosStack(instance=os.environ.get("RESIDENCY_INFRA_INSTANCE", "chaos"),
                       region=os.environ.get("RESIDENCY_CHAOS_REGION", "eu-west"),
                       kafka_port=int(os.environ["RESIDENCY_KAFKA_PORT"]),
                       mongo_port=int(os.environ["RESIDENCY_MONGO_PORT"]),
                       customer_port=int(os.environ["RESIDENCY_CUSTOMER_MONGO_PORT"]),
                       gateway_port=18150 + offset)
    began = time.monotonic()
    rows: list[Row] = []
    try:
        await asyncio.to_thread(stack.up)
        keys = await create_resources(stack, 6)
        for name in names:
            if name == "overload":
                rows.append(await one_run(stack, name, keys, workers=48, words=200, fault_after_s=0,
                                          after_fault_s=60, ramp_s=20))
            else:
                rows.append(await one_run(stack, name, keys))
    finally:
        await asyncio.to_thread(stack.down)
    table = "\n".join([HEADER, *map(format_row, rows)])
    out = Path(stack.data) / "chaos.md"
    out.write_text(table + "\n")
    print(table)
    misses = [r.name for r in rows if r.count("unanswered") or r.count("wrong") or r.records != r.ok_with_id
              or r.dlq != r.dlq_poison]
    say(f"{len(rows)} runs in {(time.monotonic() - began) / 60:.1f} min; table in {out.relative_to(ROOT)}; "
        f"missed a target: {', '.join(misses) or 'none'}")
    return 1 if misses else 0


def parse(argv: list[str]) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=[*FAULTS, "overload"], help="these runs only, in this order")
    args = parser.parse_args(argv)
    return args.only or [*FAULTS, "overload"]


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse(sys.argv[1:]))))
