"""The whole stack as processes (five services, two gateway replicas) on the test infra."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, Infra, unique_region

# Overridable so that two checkouts on one machine can run their suites side by side.
INSTANCE = os.environ.get("RESIDENCY_TEST_STACK_INSTANCE", "e2e")
_FIRST_PORT = int(os.environ.get("RESIDENCY_TEST_GATEWAY_PORT", "18080"))
GATEWAY_PORTS = (_FIRST_PORT, _FIRST_PORT + 1)


@dataclass(frozen=True)
class Stack:
    region: str
    gateways: tuple[str, ...]
    admin_key: str
    infra: Infra
    logs: Path

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.gateways[0], headers={"authorization": f"Bearer {self.admin_key}"})

    def create_resource(self, resource_id: str, deployments: dict[str, str], **fields) -> dict:
        with self.admin() as admin:
            response = admin.post("/admin/resources", json={
                "resource_id": resource_id, "region": self.region, **fields,
                "deployments": [{"name": n, "model": m} for n, m in deployments.items()]})
        assert response.status_code == 201, response.text
        return response.json()


def stack_command(command: str, *args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "deploy/local/stack.py"), command, "--instance", INSTANCE, *args],
                   cwd=ROOT, check=True)


@pytest.fixture(scope="session")
def stack(infra: Infra) -> Stack:
    region = unique_region("e")
    stack_command("down")  # processes left by an interrupted run
    kafka_port = infra.kafka.rsplit(":", 1)[1]
    mongo_port = infra.mongo.rstrip("/").rsplit(":", 1)[1]
    stack_command("up", "--region", region, "--gateways", str(len(GATEWAY_PORTS)),
                  "--gateway-port", str(GATEWAY_PORTS[0]), "--kafka-port", kafka_port,
                  "--mongo-port", mongo_port, "--timeout", "120")
    data = ROOT / ".data" / INSTANCE
    secrets = dict(line.split("=", 1) for line in (data / "secrets.env").read_text().split())
    yield Stack(region=region, gateways=tuple(f"http://127.0.0.1:{p}" for p in GATEWAY_PORTS),
                admin_key=secrets["ADMIN_KEY"], infra=infra, logs=data / "logs")
    stack_command("down")
