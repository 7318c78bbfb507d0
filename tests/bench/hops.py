"""Where one request's time goes: ``just bench hops`` (the zero-cost engine, one client).

Sends sequential non-streamed chat requests through the whole stack (echo engine), then reads
every record the region's topics got for them and places each on the request's timeline by its
create time (the producer's clock, in ms, on this one machine): HTTP arrival -> the gateway's
prompt -> the filter's generation request -> inference's completion -> the filter's reply -> the
interaction record -> the answer. Prints the median of each step. Measures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections import defaultdict
from typing import Any

import httpx

from contracts import gateway_replies, generation_events, generation_requests, interaction_records, prompt_submissions
from contracts.base import topic_name
from tests.bench.compare import GATEWAY_PORT, ROOT, STACK, Residency, say

STEPS = (  # (topic, what its record marks)
    (prompt_submissions.TOPIC, "gateway published the prompt"),
    (generation_requests.TOPIC, "filter screened it, published the generation request"),
    (generation_events.TOPIC, "inference published the completion"),
    (gateway_replies.TOPIC, "filter screened it, published the reply"),  # the last; the first says the prompt passed
    (interaction_records.TOPIC, "gateway published the interaction record"),
)


def send(count: int, key: str) -> list[tuple[str, float, float]]:
    """(request ID, sent, answered) in ms since the epoch, one request at a time."""
    body = {"model": "chat", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8}
    out = []
    with httpx.Client(base_url=f"http://127.0.0.1:{GATEWAY_PORT}", headers={"authorization": f"Bearer {key}"},
                      timeout=30) as client:
        for _ in range(5):
            client.post("/v1/chat/completions", json=body)
        for _ in range(count):
            sent = time.time() * 1000
            answer = client.post("/v1/chat/completions", json=body)
            answered = time.time() * 1000
            answer.raise_for_status()
            out.append((answer.headers["x-request-id"], sent, answered))
    return out


async def records(kafka: str, region: str) -> dict[str, dict[str, int]]:
    """Request ID -> topic template -> create time of its last record there."""
    from aiokafka import AIOKafkaConsumer

    names = {topic_name(template, region): template for template, _ in STEPS}
    consumer = AIOKafkaConsumer(*names, bootstrap_servers=kafka, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    found: dict[str, dict[str, int]] = defaultdict(dict)
    try:
        while batch := await consumer.getmany(timeout_ms=3000):
            for partition, messages in batch.items():
                for message in messages:
                    request_id = dict(message.headers).get("residency-request-id")
                    if request_id is not None:
                        marks = found[request_id.decode()]
                        template = names[partition.topic]
                        marks[template] = max(marks.get(template, 0), message.timestamp)
    finally:
        await consumer.stop()
    return found


def timeline(sent: list[tuple[str, float, float]], found: dict[str, dict[str, int]]) -> dict[str, Any]:
    steps: dict[str, list[float]] = defaultdict(list)
    whole = []
    for request_id, began, answered in sent:
        marks = found.get(request_id, {})
        if len(marks) != len(STEPS):
            continue
        times = [began, *(marks[template] for template, _ in STEPS), answered]
        labels = [what for _, what in STEPS] + ["the caller had the answer"]
        for label, before, after in zip(labels, times[:-1], times[1:], strict=True):
            steps[label].append(after - before)
        whole.append(answered - began)
    return {"requests": len(whole), "whole_p50_ms": statistics.median(whole) if whole else 0.0,
            "steps_p50_ms": {label: statistics.median(values) for label, values in steps.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kafka", default="127.0.0.1:39592")
    parser.add_argument("--mongo", default="mongodb://127.0.0.1:38517/")
    parser.add_argument("--logs", default=str(ROOT / ".data" / STACK / "logs"))
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    mongo_port = int(args.mongo.rstrip("/").rsplit(":", 1)[1])
    with Residency(args.kafka, mongo_port, mongo_port + 1, "echo") as stack:
        say(f"hops: {args.requests} sequential requests")
        sent = send(args.requests, stack.keys["buffered"])
        result = timeline(sent, asyncio.run(records(args.kafka, stack.region)))
    print(f"\nOne request's timeline, zero-cost engine, one client ({result['requests']} requests; "
          "record create times, ms resolution)")
    print(f"  {'step (from the previous mark to this one)':<58} p50 ms")
    for label, value in result["steps_p50_ms"].items():
        print(f"  {label:<58} {value:6.1f}")
    print(f"  {'whole request':<58} {result['whole_p50_ms']:6.1f}")


if __name__ == "__main__":
    main()
