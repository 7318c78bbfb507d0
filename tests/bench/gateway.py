"""``just bench gateway``: what the platform adds to a request. The whole path — HTTP, auth,
gateway -> filter -> inference -> filter -> gateway over Kafka with ``acks=all`` and the idempotent
producer, retention's record — with the zero-cost echo engine, next to calling that engine
directly, in one run. Prints p50/p99 latency and requests/s; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from contracts.base import utc_now
from contracts.common import ChatMessage, SamplingParams
from contracts.generation_requests import GenerateCompletion
from services.inference.adapters.echo_engine import EchoEngine

ROOT = Path(__file__).resolve().parents[2]
BODY = {"model": "echo", "messages": [{"role": "user", "content": "ping"}], "max_tokens": 8}


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(0.99 * (len(ordered) - 1))] * 1000


async def direct(requests: int) -> tuple[list[float], float]:
    engine = EchoEngine(["echo"])
    command = GenerateCompletion(request_id=uuid.uuid4().hex, resource_id="bench", region="bench", deployment="echo",
                                 created_at=utc_now(), reply_to="bench", model="echo",
                                 messages=[ChatMessage(role="user", content="ping")],
                                 sampling=SamplingParams(max_tokens=8))
    samples = []
    began = time.perf_counter()
    for _ in range(requests):
        start = time.perf_counter()
        async for _step in engine.generate(command):
            pass
        samples.append(time.perf_counter() - start)
    return samples, requests / (time.perf_counter() - began)


async def through_platform(gateways: list[str], key: str, requests: int, concurrency: int) -> tuple[list[float], float]:
    samples: list[float] = []
    errors = 0
    queue = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        async def worker(n: int) -> None:
            nonlocal errors
            url = f"{gateways[n % len(gateways)]}/v1/chat/completions"
            for _ in queue:
                start = time.perf_counter()
                response = await client.post(url, json=BODY, headers={"api-key": key})
                samples.append(time.perf_counter() - start)
                errors += response.status_code != 200
        began = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        elapsed = time.perf_counter() - began
    if errors:
        print(f"[bench] {errors} of {requests} requests failed", file=sys.stderr)
    return samples, requests / elapsed


def stack(command: str, *args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "deploy/local/stack.py"), command, "--instance", "bench-stack", *args],
                   cwd=ROOT, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kafka", required=True)
    parser.add_argument("--mongo", required=True)
    parser.add_argument("--logs", type=Path)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--gateway-port", type=int, default=19580)
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]

    os.environ.update({"RESIDENCY_INFERENCE_ECHO_MODELS": '["echo"]', "RESIDENCY_INFERENCE_CHAT_MODELS": "{}",
                       "RESIDENCY_INFERENCE_EMBEDDING_MODELS": "{}"})
    for service in ("GATEWAY", "FILTER", "INFERENCE", "RETRIEVAL", "RETENTION"):
        os.environ[f"RESIDENCY_{service}_LOG_LEVEL"] = "WARNING"
    region = f"bench{uuid.uuid4().hex[:6]}"
    stack("down")
    stack("up", "--region", region, "--gateways", "2", "--gateway-port", str(args.gateway_port),
          "--kafka-port", args.kafka.rsplit(":", 1)[1], "--mongo-port", args.mongo.rstrip("/").rsplit(":", 1)[1])
    try:
        secrets = dict(line.split("=", 1) for line in (ROOT / ".data/bench-stack/secrets.env").read_text().split())
        gateways = [f"http://127.0.0.1:{args.gateway_port + i}" for i in range(2)]
        admin = f"http://127.0.0.1:{args.gateway_port + 10}"  # deploy/local/stack.py: public port + 10
        created = httpx.post(f"{admin}/admin/resources", headers={"authorization": f"Bearer {secrets['ADMIN_KEY']}"},
                             json={"resource_id": f"bench-{region}", "region": region, "limits": {},
                                   "deployments": [{"name": "echo", "model": "echo"}]})
        created.raise_for_status()
        key = created.json()["keys"]["key1"]
        asyncio.run(through_platform(gateways, key, 50, 4))  # warm-up
        direct_samples, direct_rps = asyncio.run(direct(args.requests))
        rows = {n: asyncio.run(through_platform(gateways, key, args.requests, n)) for n in levels}
    finally:
        stack("down")

    d50, d99 = percentiles(direct_samples)
    print(f"\ngateway: {args.requests} chat requests per row, echo engine, acks=all + idempotent producer, "
          f"2 gateway replicas, {os.cpu_count()} CPU cores shared by Kafka, FerretDB and all services")
    print(f"{'path':>22} | {'p50 ms':>8} | {'p99 ms':>8} | {'req/s':>8} | {'p50 added':>9}")
    print(f"{'engine called directly':>22} | {d50:>8.3f} | {d99:>8.3f} | {direct_rps:>8.0f} | {'':>9}")
    for n, (samples, rps) in rows.items():
        p50, p99 = percentiles(samples)
        print(f"{f'platform, {n} in flight':>22} | {p50:>8.2f} | {p99:>8.2f} | {rps:>8.0f} | {p50 - d50:>7.2f} ms")
    print(json.dumps({"direct": [d50, d99, direct_rps],
                      "platform": {n: [*percentiles(s), r] for n, (s, r) in rows.items()}}))


if __name__ == "__main__":
    main()
