"""A running retention service on the real broker and store, with its review API over mutual TLS.

``RetentionHarness`` owns one region (its own topics and database), a throw-away PKI, four
reviewers (alice: reviewer in DE, bob: approver in FR, carol: both in NL, dave: reviewer in US),
two registered workstations and one customer token per resource.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import socket
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from faststream import FastStream
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from contracts import interaction_records
from contracts.base import topic_name, utc_now
from contracts.common import ChatMessage
from contracts.interaction_records import InteractionCompleted
from services.retention.app import create_app
from services.retention.bootstrap import RetentionService, bootstrap
from services.retention.review.identity import sha256_hex
from services.retention.settings import RetentionSettings
from services.runtime.topics import TopicPolicy, ensure_topics
from tests.conftest import Infra, unique_region
from tests.fixtures.pki import Identity, Pki, make_pki

REVIEWERS = {"alice": (["reviewer"], "DE"), "bob": (["approver"], "FR"),
             "carol": (["reviewer", "approver"], "NL"), "dave": (["reviewer"], "US")}
JAILBREAK = {"jailbreak": {"filtered": True, "detected": True}}
HIGH_HATE = {"hate": {"filtered": True, "severity": "high"}}
SAFE = {"hate": {"filtered": False, "severity": "safe"}, "jailbreak": {"filtered": False, "detected": False}}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class OffsetClock:
    """Real time plus an offset the test moves forward (expiry without waiting 30 days)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utc_now() + self.offset


def interaction(region: str, resource_id: str, request_id: str, *, text: str = "hello", end_user: str = "user-1",
                content_logging: bool = True, prompt_results: dict | None = None,
                completed_at: datetime | None = None) -> InteractionCompleted:
    now = completed_at or datetime.now(UTC)
    return InteractionCompleted(
        request_id=request_id, resource_id=resource_id, region=region, deployment="chat", created_at=now,
        reply_to="gw-test", completed_at=now, status=200, end_user=end_user, content_logging=content_logging,
        messages=[ChatMessage(role="user", content=f"prompt: {text}")], completions=[f"answer: {text}"],
        finish_reasons=["stop"], prompt_filter_results=[prompt_results or SAFE])


async def publish(bootstrap_servers: str, *events: InteractionCompleted, topic_region: str | None = None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for event in events:
            topic = topic_name(interaction_records.TOPIC, topic_region or event.region)
            await producer.send_and_wait(topic, event.model_dump_json().encode(), key=event.resource_id.encode())
    finally:
        await producer.stop()


@dataclass
class RetentionHarness:
    infra: Infra
    region: str
    directory: Path
    eea: bool = True
    clock: OffsetClock = field(default_factory=OffsetClock)
    tokens: dict[str, str] = field(default_factory=lambda: {n: secrets.token_hex(16) for n in REVIEWERS})
    customer_tokens: dict[str, str] = field(
        default_factory=lambda: {r: secrets.token_hex(16) for r in ("contoso", "fabrikam")})
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.pki: Pki = make_pki(self.directory / "pki")
        self.workstations = {name: self.pki.client(self.pki.ca.parent, name) for name in ("ws-1", "ws-2")}
        self.unregistered = self.pki.client(self.pki.ca.parent, "ws-unregistered")
        self.rogue = self.pki.client(self.pki.ca.parent, "ws-rogue", rogue=True)
        self.database = f"retention_{self.region}"
        self.settings = RetentionSettings(**self.settings_fields())

    def settings_fields(self) -> dict[str, Any]:
        return {**dict(
            region=self.region, kafka_bootstrap=self.infra.kafka,
            platform_key=base64.b64encode(os.urandom(32)).decode(),
            stores={self.region: {"uri": self.infra.mongo, "database": self.database}},
            eea_regions=[self.region] if self.eea else [], sweep_interval_s=3600,
            review_port=free_port(), review_tls_cert=str(self.pki.server.certificate),
            review_tls_key=str(self.pki.server.private_key), review_client_ca=str(self.pki.ca),
            workstations=[{"id": n, "certificate_sha256": w.sha256} for n, w in self.workstations.items()],
            reviewers=[{"id": n, "roles": roles, "location": loc, "token_sha256": sha256_hex(self.tokens[n].encode())}
                       for n, (roles, loc) in REVIEWERS.items()],
            customer_port=free_port(),
            customer_tokens={r: sha256_hex(t.encode()) for r, t in self.customer_tokens.items()}), **self.extra}

    async def start(self) -> None:
        await ensure_topics(self.infra.kafka, self.region, TopicPolicy(partitions=2))
        self.service: RetentionService = bootstrap(self.settings, clock=self.clock)
        self.app: FastStream = create_app(self.settings, service=self.service)
        await self.app.start()
        self._mongo: AsyncMongoClient = AsyncMongoClient(self.infra.mongo, tz_aware=True)
        self.db: AsyncDatabase = self._mongo[self.database]

    async def stop(self) -> None:
        await self.app.stop()
        await self._mongo.close()

    async def publish(self, *events: InteractionCompleted) -> None:
        await publish(self.infra.kafka, *events)

    async def wait_for(self, query: dict[str, Any], count: int = 1, timeout_s: float = 20) -> list[dict]:
        async with asyncio.timeout(timeout_s):
            while len(found := await self.db["records"].find(query).to_list()) < count:
                await asyncio.sleep(0.1)
        return found

    async def store(self, *events: InteractionCompleted) -> None:
        """Publish through the broker and wait until the service stored (and flagged) them."""
        await self.publish(*events)
        for event in events:
            await self.wait_for({"resource_id": event.resource_id, "request_id": event.request_id})

    async def store_flagged(self, resource_id: str, prefix: str, user: str = "user-1") -> list[str]:
        """Three jailbreak attempts of one end user: the default rule flags all three."""
        ids = [f"{prefix}-req-{i}" for i in range(3)]
        await self.store(*(interaction(self.region, resource_id, rid, end_user=user, prompt_results=JAILBREAK,
                                       completed_at=datetime.now(UTC) + timedelta(milliseconds=i))
                           for i, rid in enumerate(ids)))
        async with asyncio.timeout(20):  # flag state lives beside the records, in ``signals``
            while len([s for s in await self.db["signals"].find({"resource_id": resource_id,
                                                                   "request_id": {"$in": ids}}).to_list()
                       if s.get("flag_ids")]) < 3:
                await asyncio.sleep(0.1)
        return ids

    @asynccontextmanager
    async def reviewer(self, name: str | None, workstation: Identity | None = None):
        """An HTTPS client of the review API from a workstation, authenticated as ``name``."""
        identity = workstation if workstation is not None else self.workstations["ws-1"]
        headers = {"authorization": f"Bearer {self.tokens[name]}"} if name else {}
        async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{self.settings.review_port}", headers=headers,
                                     verify=self.pki.client_context(identity), timeout=10) as client:
            yield client

    @asynccontextmanager
    async def customer(self, resource_id: str, token: str | None = None):
        token = token or self.customer_tokens[resource_id]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.settings.customer_port}", timeout=10,
                                     headers={"authorization": f"Bearer {token}"}) as client:
            yield client

    async def granted(self, resource_id: str, request_id: str, reviewer: str = "alice",
                      approver: str = "bob") -> str:
        async with self.reviewer(reviewer) as asker, self.reviewer(approver, self.workstations["ws-2"]) as boss:
            asked = await asker.post("/review/grants", json={"resource_id": resource_id, "request_id": request_id,
                                                             "reason": "flagged pattern"})
            assert asked.status_code == 201, asked.text
            approved = await boss.post(f"/review/grants/{asked.json()['grant_id']}/approve")
            assert approved.status_code == 200, approved.text
        return asked.json()["grant_id"]

    async def audit_entries(self) -> list[dict]:
        return await self.db["audit"].find({"chain": f"review/{self.region}"}).sort("sequence", 1).to_list()


@asynccontextmanager
async def running(infra: Infra, directory: Path, **options: Any):
    harness = RetentionHarness(infra, unique_region("r"), directory, **options)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()
