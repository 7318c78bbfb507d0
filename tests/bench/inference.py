"""``just bench inference``: aggregate tokens/s and time to first token at 1, 8 and 32 concurrent
streams, through the platform (Kafka -> inference service -> Kafka) next to bare AsyncLLM with the
same model and engine settings, in one run. Prints figures; asserts nothing about timings.

Both sides ban the end-of-turn token so every stream generates exactly ``--tokens`` tokens, and
run one after the other (two cores: side by side they would share the CPU). The platform's TTFT
overhead is measured on the broker's clock: from the request's record timestamp on the
generation-requests topic to its first chunk's timestamp on generation-events.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts import generation_events, generation_requests
from contracts.base import topic_name, utc_now
from contracts.common import ChatMessage, SamplingParams
from contracts.generation_events import CompletionGenerated
from contracts.generation_requests import GenerateCompletion
from services.inference.model_files import CHAT_MODEL
from services.inference.settings import InferenceSettings
from services.runtime.topics import TopicPolicy, ensure_topics

ROOT = Path(__file__).resolve().parents[2]
PROMPT = [ChatMessage(role="user", content="Write a long story about a lighthouse keeper.")]
EOS = {"2": -100.0}


def sampling(tokens: int) -> SamplingParams:
    return SamplingParams(temperature=0.8, max_tokens=tokens, logit_bias=EOS, seed=1)


async def bare(concurrency: int, tokens: int, engine, *, prompts: list[str] | None = None,
               rounds: int = 1) -> tuple[float, list[float]]:
    """``concurrency`` streams at once, ``rounds`` times: (tokens/s over the whole run, every TTFT).

    ``prompts``: the peers' client's prompts (bench_tokens.py), taken in turn, greedy with
    ``ignore_eos`` as that client asks vLLM's server: what ``bench compare`` sets beside it, so the two
    rows differ only in the server around the engine. None: this file's long-story prompt, sampled,
    the end-of-turn token banned (``just bench inference``)."""
    from vllm import SamplingParams as VllmSampling
    from vllm.sampling_params import RequestOutputKind

    tokenizer = engine.get_tokenizer()

    def prompt_ids(messages: list[dict[str, str]]) -> list[int]:
        return list(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                  return_dict=False))

    if prompts is None:
        ids = [prompt_ids([m.model_dump(include={"role", "content"}) for m in PROMPT])]
        params = VllmSampling(temperature=0.8, max_tokens=tokens, logit_bias={2: -100.0}, seed=1,
                              output_kind=RequestOutputKind.DELTA)
    else:
        ids = [prompt_ids([{"role": "user", "content": text}]) for text in prompts]
        params = VllmSampling(temperature=0, max_tokens=tokens, ignore_eos=True, output_kind=RequestOutputKind.DELTA)

    async def one(number: int) -> tuple[int, float]:
        began, first, count = time.perf_counter(), None, 0
        prompt = {"prompt_token_ids": ids[number % len(ids)]}
        async for out in engine.generate(prompt, params, request_id=uuid.uuid4().hex):
            first = first or time.perf_counter() - began
            count += sum(len(o.token_ids) for o in out.outputs)
        return count, first

    began, results = time.perf_counter(), []
    for round_ in range(rounds):
        results += await asyncio.gather(*(one(round_ * concurrency + i) for i in range(concurrency)))
    return sum(c for c, _ in results) / (time.perf_counter() - began), [f for _, f in results]


async def platform(concurrency: int, tokens: int, kafka: str, region: str) -> tuple[float, list[float], list[float]]:
    requests_topic = topic_name(generation_requests.TOPIC, region)
    consumer = AIOKafkaConsumer(topic_name(generation_events.TOPIC, region), bootstrap_servers=kafka,
                                group_id=None, auto_offset_reset="latest")
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", enable_idempotence=True)
    await consumer.start()
    await producer.start()
    try:
        while not consumer.assignment():
            await asyncio.sleep(0.05)
        for partition in consumer.assignment():
            await consumer.position(partition)
        commands = [GenerateCompletion(request_id=uuid.uuid4().hex, resource_id=f"bench-{i % 4}", region=region,
                                       deployment="chat", created_at=utc_now(), reply_to="bench", model=CHAT_MODEL,
                                       messages=PROMPT, sampling=sampling(tokens), stream=True)
                   for i in range(concurrency)]
        sent: dict[str, tuple[float, int]] = {}
        began = time.perf_counter()
        for cmd in commands:
            meta = await producer.send_and_wait(requests_topic, cmd.model_dump_json().encode(),
                                                key=cmd.resource_id.encode())
            sent[cmd.request_id] = (time.perf_counter(), meta.timestamp)
        first_local: dict[str, float] = {}
        overhead_ms: dict[str, float] = {}
        done: dict[str, int] = {}
        async for record in consumer:
            event = CompletionGenerated.model_validate_json(record.value)
            if event.request_id not in sent:
                continue
            if event.request_id not in first_local:
                first_local[event.request_id] = time.perf_counter() - sent[event.request_id][0]
                overhead_ms[event.request_id] = record.timestamp - sent[event.request_id][1]
            if event.final:
                done[event.request_id] = event.usage.completion_tokens if event.usage else 0
                if len(done) == concurrency:
                    break
        elapsed = time.perf_counter() - began
        return sum(done.values()) / elapsed, list(first_local.values()), list(overhead_ms.values())
    finally:
        await producer.stop()
        await consumer.stop()


def start_inference(kafka: str, region: str, data: Path) -> subprocess.Popen:
    ready = data / "inference.ready"
    ready.unlink(missing_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RESIDENCY_INFERENCE_REGION": region,
           "RESIDENCY_INFERENCE_KAFKA_BOOTSTRAP": kafka, "RESIDENCY_INFERENCE_READY_FILE": str(ready),
           "RESIDENCY_INFERENCE_EMBEDDING_MODELS": "{}", "RESIDENCY_INFERENCE_WORK_DIR": str(data / "vllm"),
           "RESIDENCY_INFERENCE_LOG_LEVEL": "WARNING"}
    log = open(data / "inference.log", "wb")  # noqa: SIM115 - the child writes to it until it ends
    process = subprocess.Popen([sys.executable, "-m", "services.inference"], cwd=ROOT, env=env, stdout=log,
                               stderr=log)
    deadline = time.monotonic() + 300
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the inference service did not start; see {data / 'inference.log'}")
        time.sleep(0.5)
    return process


def p50(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@contextlib.asynccontextmanager
async def bare_engine(work_dir: Path, *, prompts: list[str] | None = None) -> AsyncIterator[Any]:
    """Bare ``AsyncLLM`` with Residency's engine arguments, warmed up on ``prompts``; shut down after."""
    from vllm.v1.engine.async_llm import AsyncLLM

    from services.inference.adapters.vllm_setup import engine_args, prepare_environment, resolve_model

    settings = InferenceSettings()
    prepare_environment(settings, work_dir)
    engine = AsyncLLM.from_engine_args(engine_args(resolve_model(f"packaged:{CHAT_MODEL}"), settings, pooling=False))
    try:
        await bare(1, 4, engine, prompts=prompts)  # warm-up
        yield engine
    finally:
        engine.shutdown()


async def run_bare(levels: list[int], tokens: int, work_dir: Path, *, prompts: list[str] | None = None,
                   rounds: Callable[[int], int] = lambda level: 1) -> dict[int, tuple[float, float]]:
    async with bare_engine(work_dir, prompts=prompts) as engine:
        return {n: (lambda r: (r[0], p50(r[1]) * 1000))(await bare(n, tokens, engine, prompts=prompts,
                                                                   rounds=rounds(n))) for n in levels}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kafka", default="127.0.0.1:39592")
    parser.add_argument("--mongo", help="ignored: inference keeps nothing in a store")
    parser.add_argument("--logs", type=Path, default=ROOT / ".data" / "bench" / "logs",
                        help="where the inference service's log and vLLM cache go")
    parser.add_argument("--levels", default="1,8,32")
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    data = args.logs
    data.mkdir(parents=True, exist_ok=True)

    print(f"[bench] bare AsyncLLM, {args.tokens} tokens per stream ...", file=sys.stderr)
    bare_results = asyncio.run(run_bare(levels, args.tokens, data / "vllm"))

    region = f"bench{uuid.uuid4().hex[:6]}"
    asyncio.run(ensure_topics(args.kafka, region, TopicPolicy()))
    print(f"[bench] platform: inference service on region {region} ...", file=sys.stderr)
    service = start_inference(args.kafka, region, data)
    try:
        asyncio.run(platform(1, 4, args.kafka, region))  # warm-up
        platform_results = {n: asyncio.run(platform(n, args.tokens, args.kafka, region)) for n in levels}
    finally:
        service.terminate()
        service.wait(60)

    print(f"\ninference: {CHAT_MODEL} on {os.cpu_count()} CPU cores, {args.tokens} tokens per stream")
    print(f"{'streams':>7} | {'bare tok/s':>10} | {'platform tok/s':>14} | {'ratio':>6} | "
          f"{'bare TTFT p50':>13} | {'platform TTFT p50':>17} | {'bus TTFT overhead p50':>21}")
    for n in levels:
        bare_tps, bare_ttft = bare_results[n]
        plat_tps, plat_ttft, overhead = platform_results[n]
        print(f"{n:>7} | {bare_tps:>10.1f} | {plat_tps:>14.1f} | {plat_tps / bare_tps:>6.1%} | "
              f"{bare_ttft:>10.0f} ms | {p50(plat_ttft) * 1000:>14.0f} ms | "
              f"{p50(overhead) - bare_ttft:>18.0f} ms")
    print(json.dumps({"bare": bare_results, "platform": {n: [r[0], p50(r[1]) * 1000, p50(r[2])]
                                                          for n, r in platform_results.items()}}))


if __name__ == "__main__":
    main()
