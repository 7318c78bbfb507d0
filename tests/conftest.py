"""Shared fixtures. Integration and e2e tests use the real Kafka and FerretDB started by
deploy/local/infra.sh (``just test`` starts a dedicated instance and exports its addresses)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from services.filter.policy import ResourcePolicy
from services.runtime.topics import TopicPolicy, ensure_topics
from tests.fixtures.otlp import OtlpReceiver

ROOT = Path(__file__).resolve().parents[1]


def _stack_script():
    """deploy/local/stack.py (a script, not a package): its port layout, not a copy of it."""
    spec = importlib.util.spec_from_file_location("residency_local_stack", ROOT / "deploy" / "local" / "stack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Infra:
    kafka: str
    mongo: str  # the platform's store
    customer_mongo: str  # a tenant's own MongoDB, for "on your data"; never the platform's store

    @property
    def customer_port(self) -> int:
        return int(self.customer_mongo.rstrip("/").rsplit(":", 1)[1])


@pytest.fixture(scope="session")
def infra() -> Infra:
    kafka = os.environ.get("RESIDENCY_TEST_KAFKA")
    mongo = os.environ.get("RESIDENCY_TEST_MONGO")
    customer = os.environ.get("RESIDENCY_TEST_CUSTOMER_MONGO")
    if not (kafka and mongo and customer):
        # Started outside `just test` (e.g. plain pytest): bring up the test instance ourselves.
        env = {**os.environ, "RESIDENCY_INFRA_INSTANCE": "test", "RESIDENCY_KAFKA_PORT": "29092",
               "RESIDENCY_MONGO_PORT": "28017", "RESIDENCY_CUSTOMER_MONGO_PORT": "28018"}
        subprocess.run([str(ROOT / "deploy/local/infra.sh"), "up"], env=env, check=True)
        kafka, mongo, customer = "127.0.0.1:29092", "mongodb://127.0.0.1:28017/", "mongodb://127.0.0.1:28018/"
    return Infra(kafka=kafka, mongo=mongo, customer_mongo=customer)


def unique_region(prefix: str = "t") -> str:
    """A region of its own per test: its topics, groups and databases collide with nothing."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def region(infra: Infra) -> str:
    name = unique_region()
    await ensure_topics(infra.kafka, name, TopicPolicy(partitions=3))
    return name


# The stack: the five services as processes (two gateway replicas) on the test infra, started once
# per session and shared by the integration tests that need inference and by the e2e tests: one
# chat engine (LoRA enabled) and one embedding engine for the whole run.

# Overridable so that two checkouts on one machine can run their suites side by side.
ECHO_MODEL = "echo"
# The echo engine under vLLM's hermes tool parser (tool_choice auto): it answers with the caller's
# words, so a test writes the model output the parser reads.
ECHO_TOOLS_MODEL = "echo-tools"
CHAT_MODEL = "smollm2-135m-instruct"
EMBEDDING_MODEL = "all-minilm-l6-v2"
INSTANCE = os.environ.get("RESIDENCY_TEST_STACK_INSTANCE", "e2e")
_FIRST_PORT = int(os.environ.get("RESIDENCY_TEST_GATEWAY_PORT", "18080"))
GATEWAY_PORTS = (_FIRST_PORT, _FIRST_PORT + 1)
# A loopback port the stack lets data connections reach besides the customer store: the security
# tests put a server there that accepts connections and never answers.
TARPIT_PORT = _FIRST_PORT + 9
ADMIN_PORT = _FIRST_PORT + 10  # the first replica's admin listener (deploy/local/stack.py: public port + 10)
OTLP_PORT = _FIRST_PORT + 12  # the in-memory OTLP receiver the stack's processes export their spans to
METRICS_PORT = _FIRST_PORT + 20  # the stack's /metrics listeners from here on (stack.py metrics_ports_of)


@dataclass(frozen=True)
class Stack:
    region: str
    gateways: tuple[str, ...]
    admin_url: str
    admin_key: str
    infra: Infra
    logs: Path
    data: Path
    # What only a stack of this suite's own has: the spans its processes exported, their /metrics.
    spans: OtlpReceiver | None = None
    metrics: dict[str, str] = field(default_factory=dict)
    external: bool = False  # started elsewhere (compose-check): its processes' files are not visible here

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.admin_url, headers={"authorization": f"Bearer {self.admin_key}"})

    def create_resource(self, resource_id: str, deployments: dict[str, str], **fields) -> dict:
        """A resource through the admin API, with the default content-filter policy (Azure's defaults
        and Residency's harmful-request threshold)."""
        with self.admin() as admin:
            response = admin.post("/admin/resources", json={
                "resource_id": resource_id, "region": self.region, **fields,
                "deployments": [{"name": n, "model": m} for n, m in deployments.items()]})
        assert response.status_code == 201, response.text
        return response.json()

    def create_connection(self, resource_id: str, name: str, *, endpoint: str | None = None,
                          database_name: str, **fields) -> httpx.Response:
        """Registers a data connection through the admin API (the customer store by default)."""
        with self.admin() as admin:
            return admin.post(f"/admin/resources/{resource_id}/data-connections", json={
                "name": name, "endpoint": endpoint or self.infra.customer_mongo, "database_name": database_name,
                **fields})

    def put_filter_policy(self, policy: ResourcePolicy) -> None:
        from pymongo import MongoClient

        from services.filter.adapters.policies import to_document

        document = to_document(policy)
        database = f"residency_filter_{self.region.replace('-', '_')}"
        with MongoClient(self.infra.mongo) as client:
            client[database]["filter_policies"].replace_one({"_id": document["_id"]}, document, upsert=True)


def stack_command(command: str, *args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "deploy/local/stack.py"), command, "--instance", INSTANCE, *args],
                   cwd=ROOT, check=True)


def external_stack(infra: Infra) -> Stack | None:
    """A stack started elsewhere (`just compose-check`): RESIDENCY_TEST_EXTERNAL_GATEWAYS (two URLs,
    comma-separated), RESIDENCY_TEST_EXTERNAL_REGION, RESIDENCY_TEST_EXTERNAL_ADMIN_URL (the first
    gateway's admin listener) and RESIDENCY_TEST_EXTERNAL_ADMIN_KEY, with the
    infra's addresses as the host reaches them in RESIDENCY_TEST_KAFKA/_MONGO/_CUSTOMER_MONGO. The
    customer store's URI must reach the same server from the tests and from the stack's retrieval,
    and that stack must serve ECHO_MODEL (RESIDENCY_INFERENCE_ECHO_MODELS)."""
    gateways = os.environ.get("RESIDENCY_TEST_EXTERNAL_GATEWAYS")
    if not gateways:
        return None
    logs = Path(os.environ.get("RESIDENCY_TEST_EXTERNAL_LOGS", ROOT / ".data" / "external" / "logs"))
    return Stack(region=os.environ["RESIDENCY_TEST_EXTERNAL_REGION"], gateways=tuple(gateways.split(",")),
                 admin_url=os.environ["RESIDENCY_TEST_EXTERNAL_ADMIN_URL"],
                 admin_key=os.environ["RESIDENCY_TEST_EXTERNAL_ADMIN_KEY"], infra=infra, logs=logs, data=logs.parent,
                 external=True)


@pytest.fixture(scope="session")
def stack(infra: Infra) -> Stack:
    if external := external_stack(infra):
        yield external
        return
    region = unique_region("e")
    stack_command("down")  # processes left by an interrupted run
    kafka_port = infra.kafka.rsplit(":", 1)[1]
    mongo_port = infra.mongo.rstrip("/").rsplit(":", 1)[1]
    # The stack's processes inherit these; the tests that run in this process after it (integration,
    # unit) must not, so they are set only while the stack starts.
    spans = OtlpReceiver(OTLP_PORT)
    stack_environment = {
        # The zero-cost echo engine serves ECHO_MODEL beside vLLM, for assertions on exact text.
        "RESIDENCY_INFERENCE_ECHO_MODELS": json.dumps([ECHO_MODEL, ECHO_TOOLS_MODEL]),
        # tool_choice auto through vLLM's hermes parser on the echo engine; SmolLM2 has no parser (auto refused).
        "RESIDENCY_INFERENCE_TOOL_CALLING": json.dumps({ECHO_TOOLS_MODEL: {"parser": "hermes"}}),
        # Traces leave the processes as in production: OTLP over HTTP, configured by OTEL_* alone.
        "OTEL_EXPORTER_OTLP_ENDPOINT": spans.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200"}
    before = {name: os.environ.get(name) for name in stack_environment}
    os.environ.update(stack_environment)
    try:
        stack_up(region, kafka_port, mongo_port, infra)
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    data = ROOT / ".data" / INSTANCE
    secrets = dict(line.split("=", 1) for line in (data / "secrets.env").read_text().split())
    yield Stack(region=region, gateways=tuple(f"http://127.0.0.1:{p}" for p in GATEWAY_PORTS),
                admin_url=f"http://127.0.0.1:{ADMIN_PORT}", admin_key=secrets["ADMIN_KEY"], infra=infra,
                logs=data / "logs", data=data, spans=spans,
                metrics={name: f"http://127.0.0.1:{port}/metrics"
                         for name, port in _stack_script().metrics_ports_of(METRICS_PORT, len(GATEWAY_PORTS)).items()})
    stack_command("down")
    spans.close()


def stack_up(region: str, kafka_port: str, mongo_port: str, infra: Infra) -> None:
    stack_command("up", "--region", region, "--gateways", str(len(GATEWAY_PORTS)), "--metrics-port", str(METRICS_PORT),
                  "--gateway-port", str(GATEWAY_PORTS[0]), "--admin-port", str(ADMIN_PORT), "--kafka-port", kafka_port,
                  "--mongo-port", mongo_port, "--customer-mongo-port", str(infra.customer_port),
                  "--allow-endpoint", f"127.0.0.1/32:{TARPIT_PORT}",
                  # A busy shared machine starts the vLLM engines slowly.
                  "--timeout", os.environ.get("RESIDENCY_TEST_STACK_TIMEOUT", "300"))
