"""The audit chain on the real store: the verifier command, and concurrent appenders."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from itertools import pairwise

import httpx
import pytest
from pymongo import AsyncMongoClient

from services.retention.adapters.mongo_audit import MongoAuditStore
from services.retention.audit import AuditLog
from services.retention.model import AuditEntry, AuditEvent
from tests.conftest import ROOT
from tests.integration.retention_harness import RetentionHarness, running

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


def verifier(harness: RetentionHarness) -> subprocess.CompletedProcess:
    """``just retention verify-audit`` with the service's own settings, as an operator runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESIDENCY_")}
    env.update({"RESIDENCY_RETENTION_REGION": harness.region,
                "RESIDENCY_RETENTION_KAFKA_BOOTSTRAP": harness.infra.kafka,
                "RESIDENCY_RETENTION_PLATFORM_KEY": harness.settings.platform_key.get_secret_value(),
                "RESIDENCY_RETENTION_STORES": json.dumps({harness.region: {"uri": harness.infra.mongo,
                                                                           "database": harness.database}})})
    return subprocess.run([sys.executable, "-m", "services.retention.cli", "verify-audit"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


async def test_audit_chain_verifies_and_detects_an_edited_entry(infra, tmp_path) -> None:
    async with running(infra, tmp_path) as harness:
        [target, *_] = await harness.store_flagged("contoso", "audited")
        grant_id = await harness.granted("contoso", target)
        async with harness.reviewer("alice") as alice:
            await alice.get(f"/review/records/contoso/{target}", headers={"x-review-grant": grant_id})
            await alice.get(f"/review/records/contoso/{target}")  # refused: no grant
        entries = await harness.audit_entries()
        assert [e["event"]["outcome"] for e in entries] == ["granted", "granted", "granted", "refused"]

        clean = verifier(harness)
        assert clean.returncode == 0, clean.stderr
        assert f"{len(entries)} entries verified" in clean.stdout

        # Someone with write access to the store hides who read the record.
        await harness.db["audit"].update_one({"chain": entries[2]["chain"], "sequence": 2},
                                             {"$set": {"event.actor": "nobody"}})
        edited = verifier(harness)
        assert edited.returncode == 1
        assert "BROKEN at sequence 2" in edited.stderr and "edited" in edited.stderr


class CountingAuditStore(MongoAuditStore):
    lost_races = 0

    async def insert_entry(self, entry: AuditEntry) -> bool:
        inserted = await super().insert_entry(entry)
        CountingAuditStore.lost_races += not inserted
        return inserted


async def test_concurrent_audit_appenders_do_not_fork_the_chain(infra, tmp_path) -> None:
    async with running(infra, tmp_path) as harness:
        # Three replicas (own clients) append at once, and reviewers hit the running service at once.
        clients = [AsyncMongoClient(infra.mongo, tz_aware=True) for _ in range(3)]
        try:
            logs = [AuditLog(CountingAuditStore(c[harness.database]), f"review/{harness.region}", harness.clock)
                    for c in clients]
            events = [AuditEvent(actor=f"replica-{i % 3}", workstation="ws-1", action="read-record",
                                 outcome="refused", reason="no_grant", resource_id="contoso",
                                 request_id=f"concurrent-{i:03d}") for i in range(45)]

            async def over_http() -> list[httpx.Response]:
                async with harness.reviewer("alice") as alice:
                    return await asyncio.gather(*(alice.get(f"/review/records/contoso/http-req-{i:03d}")
                                                  for i in range(15)))

            responses, *_ = await asyncio.gather(over_http(), *(logs[i % 3].append(e) for i, e in enumerate(events)))
        finally:
            for client in clients:
                await client.close()

        assert {r.status_code for r in responses} == {404}
        entries = await harness.audit_entries()
        assert [e["sequence"] for e in entries] == list(range(60))
        assert all(b["prev_hash"] == a["hash"] for a, b in pairwise(entries))
        assert (await harness.service.review.audit.verify()).ok
        assert CountingAuditStore.lost_races > 0, "the appenders must actually have raced"
