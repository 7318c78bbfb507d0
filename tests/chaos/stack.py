"""The chaos stack: two replicas of every bus service and two gateways, on the echo engine, as
processes on this machine, against an infra instance of deploy/local/infra.sh; and the hands
that break them (kill -9, SIGTERM, SIGSTOP, the broker's and the store's restart).

Processes are started the way deploy/local/stack.py starts them (same environment, logs in
.data/<instance>/logs/); each replica has its own ready file.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("residency_local_stack", ROOT / "deploy" / "local" / "stack.py")
assert _spec is not None and _spec.loader is not None
local_stack: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(local_stack)

BUS_SERVICES = ("filter", "inference", "retrieval", "retention")
REPLICAS = 2
# The echo engine only (the real model is not needed to move partitions around): a small window
# per replica and a pause per token keep requests in flight when a fault strikes.
ECHO_SETTINGS = {
    "RESIDENCY_INFERENCE_CHAT_MODELS": "{}", "RESIDENCY_INFERENCE_EMBEDDING_MODELS": "{}",
    "RESIDENCY_INFERENCE_ECHO_MODELS": json.dumps(["echo"]), "RESIDENCY_INFERENCE_ECHO_DELAY_PER_TOKEN_S": "0.005",
    "RESIDENCY_INFERENCE_MAX_IN_FLIGHT": "4",
    # The lexical layers: the classifier's models would not fit twice beside everything else on a small machine.
    "RESIDENCY_FILTER_LAYERS": json.dumps(["blocklists", "lexicon", "pii"]),
}


def say(text: str) -> None:
    print(f"[chaos] {text}", file=sys.stderr, flush=True)


@dataclass
class Replica:
    name: str  # filter-1, gateway-2, ...
    service: str
    env: dict[str, str]
    port: int | None = None  # gateways: the public port
    process: subprocess.Popen | None = None


@dataclass
class ChaosStack:
    instance: str
    region: str
    kafka_port: int
    mongo_port: int
    customer_port: int
    gateway_port: int
    replicas: dict[str, Replica] = field(default_factory=dict)

    @property
    def data(self) -> Path:
        return ROOT / ".data" / self.instance

    @property
    def kafka(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def mongo(self) -> str:
        return f"mongodb://127.0.0.1:{self.mongo_port}/"

    @property
    def gateways(self) -> list[Replica]:
        return [r for r in self.replicas.values() if r.service == "gateway"]

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port + local_stack.ADMIN_PORT_OFFSET}"

    def keys(self) -> dict[str, str]:
        return local_stack.secrets_of(self.data)

    def up(self, timeout_s: float = 300) -> None:
        began = time.monotonic()
        subprocess.run([sys.executable, "-m", "services.runtime.topics", "--region", self.region,
                        "--bootstrap", self.kafka], cwd=ROOT, check=True)
        common = dict(region=self.region, kafka=self.kafka, mongo=self.mongo, keys=self.keys(),
                      extra=ECHO_SETTINGS, data=self.data,
                      allowed_endpoints=[f"127.0.0.1/32:{self.customer_port}"])
        for service in BUS_SERVICES:
            for i in range(1, REPLICAS + 1):
                env = local_stack.service_env(service, **common)
                self.replicas[f"{service}-{i}"] = Replica(f"{service}-{i}", service, env)
        for i in range(1, REPLICAS + 1):
            env = local_stack.service_env("gateway", **common)
            port = self.gateway_port + i - 1
            env.update({"RESIDENCY_GATEWAY_PORT": str(port),
                        "RESIDENCY_GATEWAY_ADMIN_PORT": str(port + local_stack.ADMIN_PORT_OFFSET),
                        "RESIDENCY_GATEWAY_REPLICA_ID": f"{self.instance}-gw{i}"})
            self.replicas[f"gateway-{i}"] = Replica(f"gateway-{i}", "gateway", env, port=port)
        for replica in self.replicas.values():
            self.start(replica)
        for replica in self.replicas.values():
            self.wait_ready(replica, timeout_s - (time.monotonic() - began))
        say(f"stack ready in {time.monotonic() - began:.0f} s: {len(self.replicas)} processes, region {self.region}")

    def start(self, replica: Replica) -> None:
        if replica.port is None:
            replica.env[f"RESIDENCY_{replica.service.upper()}_READY_FILE"] = local_stack.ready_file(
                self.data, replica.name)
        replica.process = local_stack.start(replica.name, f"services.{replica.service}", replica.env, self.data)

    def ready(self, replica: Replica) -> bool:
        if replica.port is None:
            return (self.data / "ready" / replica.name).exists()
        try:
            return httpx.get(f"http://127.0.0.1:{replica.port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, replica: Replica, timeout_s: float = 120) -> float:
        began = time.monotonic()
        while not self.ready(replica):
            assert replica.process is not None
            if replica.process.poll() is not None:
                raise RuntimeError(f"{replica.name} exited during start-up; see {self.data / 'logs'}")
            if time.monotonic() - began > timeout_s:
                raise RuntimeError(f"{replica.name} not ready after {timeout_s:.0f} s")
            time.sleep(0.2)
        return time.monotonic() - began

    def signal(self, replica: Replica, sig: signal.Signals) -> None:
        assert replica.process is not None
        os.killpg(replica.process.pid, sig)

    def wait_exit(self, replica: Replica, timeout_s: float = 40) -> int | None:
        assert replica.process is not None
        try:
            return replica.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def restart(self, replica: Replica) -> float:
        """Start it again and wait until it is ready; seconds until ready."""
        self.start(replica)
        return self.wait_ready(replica)

    def down(self) -> None:
        for replica in self.replicas.values():
            if replica.process is not None and replica.process.poll() is None:
                os.killpg(replica.process.pid, signal.SIGCONT)
                os.killpg(replica.process.pid, signal.SIGTERM)
        for replica in self.replicas.values():
            if replica.process is not None and self.wait_exit(replica, 30) is None:
                os.killpg(replica.process.pid, signal.SIGKILL)

    # -- infra ------------------------------------------------------------------------------------

    def infra_env(self) -> dict[str, str]:
        return {**os.environ, "RESIDENCY_INFRA_INSTANCE": self.instance, "RESIDENCY_KAFKA_PORT": str(self.kafka_port),
                "RESIDENCY_MONGO_PORT": str(self.mongo_port),
                "RESIDENCY_CUSTOMER_MONGO_PORT": str(self.customer_port)}

    def kill_infra(self, name: str) -> None:
        """kill -9 of ``kafka`` or ``ferretdb`` (the platform's store); its data stays on disk."""
        pid = int((self.data / f"{name}.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)

    def infra_up(self) -> None:
        subprocess.run([str(ROOT / "deploy/local/infra.sh"), "up"], env=self.infra_env(), check=True,
                       stdout=subprocess.DEVNULL)
