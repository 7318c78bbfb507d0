"""SIGTERM under load: a rolling restart of inference loses no answer and answers nothing twice.

Two real inference processes (the echo engine, slowed so that requests are in flight) share the
region's partitions, as in a Kubernetes rolling update where the new pod is ready before the old
one gets SIGTERM. One is SIGTERM'd while requests run: it stops taking new ones, lets the running
ones finish, publish and commit, and exits within its grace period; the other takes over the rest.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from contracts import generation_events, generation_requests
from contracts.common import ChatMessage, SamplingParams
from contracts.generation_events import CompletionGenerated
from contracts.generation_requests import GenerateCompletion
from services.runtime.settings import HANDLER_GRACE_S, SHUTDOWN_GRACE_S
from tests.integration.bus_client import BusClient, envelope

pytestmark = pytest.mark.kafka
ROOT = Path(__file__).resolve().parents[2]
REQUESTS = 60


def start_inference(name: str, region: str, infra, tmp_path: Path) -> tuple[subprocess.Popen, Path, Path]:
    ready, log = tmp_path / f"{name}.ready", tmp_path / f"{name}.log"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("RESIDENCY_")},
           "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "RESIDENCY_INFERENCE_REGION": region, "RESIDENCY_INFERENCE_KAFKA_BOOTSTRAP": infra.kafka,
           "RESIDENCY_INFERENCE_CHAT_MODELS": "{}", "RESIDENCY_INFERENCE_EMBEDDING_MODELS": "{}",
           "RESIDENCY_INFERENCE_ECHO_MODELS": json.dumps(["echo"]),
           "RESIDENCY_INFERENCE_ECHO_DELAY_PER_TOKEN_S": "0.25", "RESIDENCY_INFERENCE_MAX_IN_FLIGHT": "8",
           "RESIDENCY_INFERENCE_READY_FILE": str(ready), "RESIDENCY_INFERENCE_WORK_DIR": str(tmp_path / name)}
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "services.inference"], cwd=tmp_path, env=env,
                                   stdout=out, stderr=out)
    return process, ready, log


async def wait_ready(*started: tuple[subprocess.Popen, Path, Path]) -> None:
    async with asyncio.timeout(120):
        while not all(ready.exists() for _, ready, _ in started):
            assert all(p.poll() is None for p, _, _ in started), [log.read_text()[-2000:] for _, _, log in started]
            await asyncio.sleep(0.2)


def request(region: str, i: int) -> GenerateCompletion:
    return GenerateCompletion(**envelope(region, resource_id=f"tenant-{i % 6}"), model="echo",
                              messages=[ChatMessage(role="user", content="one two three four")],
                              sampling=SamplingParams())


async def test_a_sigtermed_inference_replica_under_load_loses_no_answer(infra, region, tmp_path) -> None:
    old, new = start_inference("old", region, infra, tmp_path), start_inference("new", region, infra, tmp_path)
    try:
        await wait_ready(old, new)
        commands = [request(region, i) for i in range(REQUESTS)]
        async with BusClient(infra.kafka, region, generation_events.TOPIC, CompletionGenerated) as events:
            for command in commands:
                await events.publish(generation_requests.TOPIC, command)
            async with asyncio.timeout(60):
                while sum(1 for c in commands if events.received(c.request_id)) < 4:
                    await asyncio.sleep(0.05)
            old[0].send_signal(signal.SIGTERM)
            stopped = time.monotonic()
            exit_code = await asyncio.to_thread(old[0].wait, 60)
            took = time.monotonic() - stopped
            async with asyncio.timeout(120):
                while not all(any(e.final for e in events.received(c.request_id)) for c in commands):
                    await asyncio.sleep(0.1)
            await asyncio.sleep(2)  # a second answer of any request would arrive by now
            finals = {c.request_id: [e for e in events.received(c.request_id) if e.final] for c in commands}
    finally:
        for process, _, _ in (old, new):
            if process.poll() is None:
                process.terminate()
                process.wait(30)

    log = old[2].read_text()
    assert exit_code == 0, log[-3000:]
    assert took < SHUTDOWN_GRACE_S + HANDLER_GRACE_S, f"exited {took:.1f} s after SIGTERM"
    assert "draining" in log, "the SIGTERM came while nothing was in flight: the test proved nothing"
    assert all(len(f) == 1 for f in finals.values()), {k: len(v) for k, v in finals.items() if len(v) != 1}
    assert all(f[0].error is None and f[0].choices[0].text.endswith("one two three four") for f in finals.values())
