"""Shared fixtures. Integration and e2e tests use the real Kafka and FerretDB started by
deploy/local/infra.sh (``just test`` starts a dedicated instance and exports its addresses)."""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.runtime.topics import TopicPolicy, ensure_topics

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Infra:
    kafka: str
    mongo: str


@pytest.fixture(scope="session")
def infra() -> Infra:
    kafka = os.environ.get("RESIDENCY_TEST_KAFKA")
    mongo = os.environ.get("RESIDENCY_TEST_MONGO")
    if not (kafka and mongo):
        # Started outside `just test` (e.g. plain pytest): bring up the test instance ourselves.
        env = {**os.environ, "RESIDENCY_INFRA_INSTANCE": "test", "RESIDENCY_KAFKA_PORT": "29092",
               "RESIDENCY_MONGO_PORT": "28017"}
        subprocess.run([str(ROOT / "deploy/local/infra.sh"), "up"], env=env, check=True)
        kafka, mongo = "127.0.0.1:29092", "mongodb://127.0.0.1:28017/"
    return Infra(kafka=kafka, mongo=mongo)


def unique_region(prefix: str = "t") -> str:
    """A region of its own per test: its topics, groups and databases collide with nothing."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def region(infra: Infra) -> str:
    name = unique_region()
    await ensure_topics(infra.kafka, name, TopicPolicy(partitions=3))
    return name
