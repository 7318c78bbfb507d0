"""The end of stored data on the real broker and store: expiry with key destruction by the
service's own periodic sweep, a lowered retention, customer deletion, customer-managed keys."""

from __future__ import annotations

import asyncio
import base64
import os
from datetime import timedelta
from typing import Any

import pytest
from pymongo.errors import AutoReconnect

from services.retention.errors import UnreadableRecord
from services.retention.records import associated_data, document_to_sealed
from services.retention.sweep import sweep
from tests.integration.retention_harness import RetentionHarness, interaction, running

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


async def try_open(harness: RetentionHarness, record: dict[str, Any]) -> bytes:
    return await harness.service.ports.keyring.open(
        record["resource_id"], document_to_sealed(record["content"]),
        associated_data(record["resource_id"], record["request_id"]))


async def eventually(check, timeout_s: float = 15.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not await check():
            await asyncio.sleep(0.1)


async def test_expiry_and_key_destruction(infra, tmp_path) -> None:
    async with running(infra, tmp_path, extra={"sweep_interval_s": 0.2}) as harness:
        ids = await harness.store_flagged("contoso", "expiring")
        copies = await harness.db["records"].find({"request_id": {"$in": ids}}).to_list()
        assert [b"answer: hello" in await try_open(harness, c) for c in copies] == [True] * 3  # within the window
        keys = await harness.db["data_keys"].find({"resource_id": "contoso"}).to_list()
        assert keys and all(k["wrapped"] is not None for k in keys)
        assert all(r["expires_at"] - r["completed_at"] <= timedelta(days=30) for r in copies)

        harness.clock.offset = timedelta(days=30, hours=1)  # past every window; the service sweeps by itself

        async def swept() -> bool:  # a round can delete the records after its key step saw the old clock:
            # the next round (0.2 s later) destroys the keys, so wait for both
            keys_left = await harness.db["data_keys"].count_documents(
                {"resource_id": "contoso", "wrapped": {"$ne": None}})
            return await harness.db["records"].count_documents({"resource_id": "contoso"}) == 0 and keys_left == 0
        await eventually(swept)
        keys = await harness.db["data_keys"].find({"resource_id": "contoso"}).to_list()
        assert keys and all(k["wrapped"] is None and k["destroyed_at"] for k in keys)
        for collection in ("signals", "flags"):  # the flag state and the flags went with the records
            assert await harness.db[collection].count_documents({"resource_id": "contoso"}) == 0, collection
        # Copies that outlived the sweep (a lagging replica, a restored backup) stay unreadable.
        await harness.db["records"].insert_many(copies)
        for copy in copies:
            with pytest.raises(UnreadableRecord):
                await try_open(harness, copy)


async def test_a_sweep_that_fails_half_way_leaves_nothing_behind_after_the_next(infra, tmp_path, monkeypatch) -> None:
    async with running(infra, tmp_path) as harness:
        await harness.store_flagged("contoso", "interrupted")
        assert await harness.db["signals"].count_documents({"resource_id": "contoso"}) == 3
        signals = harness.service.store.records._signals
        real_delete = signals.delete_many

        async def store_gone_once(*args: Any, **kwargs: Any) -> Any:
            monkeypatch.setattr(signals, "delete_many", real_delete)
            raise AutoReconnect("connection reset by peer")

        monkeypatch.setattr(signals, "delete_many", store_gone_once)
        harness.clock.offset = timedelta(days=30, hours=1)
        with pytest.raises(AutoReconnect):
            await sweep(harness.service.sweep)
        await sweep(harness.service.sweep)
        for collection in ("records", "signals", "flags"):
            assert await harness.db[collection].count_documents({"resource_id": "contoso"}) == 0, collection


async def test_a_lowered_retention_applies_to_stored_data(infra, tmp_path) -> None:
    async with running(infra, tmp_path) as harness:
        await harness.store(interaction(harness.region, "fabrikam", "short-lived-1"),
                            interaction(harness.region, "contoso", "long-lived-1"))
        async with harness.customer("fabrikam") as owner:
            changed = await owner.put("/customer/resources/fabrikam/retention", json={"days": 1})
            refused = await owner.put("/customer/resources/fabrikam/retention", json={"days": 31})
        assert changed.status_code == 200 and refused.status_code == 400
        await harness.store(interaction(harness.region, "fabrikam", "short-lived-2"))
        record = await harness.db["records"].find_one({"request_id": "short-lived-2"})
        assert record["retention_days"] == 1 and record["expires_at"] - record["completed_at"] <= timedelta(days=1)

        harness.clock.offset = timedelta(days=1)
        report = await sweep(harness.service.sweep)
        assert await harness.db["records"].count_documents({"resource_id": "fabrikam"}) == 0
        assert await harness.db["records"].count_documents({"resource_id": "contoso"}) == 1
        assert report.keys_destroyed == 1 and report.records_deleted == 2
        fabrikam_key = await harness.db["data_keys"].find_one({"resource_id": "fabrikam"})
        assert fabrikam_key["wrapped"] is None


async def test_deletion_unrecoverable(infra, tmp_path) -> None:
    async with running(infra, tmp_path) as harness:
        doomed = await harness.store_flagged("contoso", "doomed")
        kept = await harness.store_flagged("fabrikam", "kept", user="user-2")
        await harness.granted("contoso", doomed[0])
        copies = await harness.db["records"].find({"resource_id": "contoso"}).to_list()

        async with harness.customer("contoso") as owner:
            deleted = await owner.delete("/customer/resources/contoso/content")
            wrong_owner = await owner.delete("/customer/resources/fabrikam/content")
        assert deleted.status_code == 200 and deleted.json()["records_deleted"] == 3
        assert wrong_owner.status_code == 401

        for collection in ("records", "signals", "flags", "grants"):
            assert await harness.db[collection].count_documents({"resource_id": "contoso"}) == 0, collection
        assert await harness.db["signals"].count_documents({"resource_id": "fabrikam"}) == 3
        keys = await harness.db["data_keys"].find({"resource_id": "contoso"}).to_list()
        assert keys and all(k["wrapped"] is None and k["destroyed_because"] == "customer deletion" for k in keys)
        await harness.db["records"].insert_many(copies)  # even a full copy of the records
        for copy in copies:
            with pytest.raises(UnreadableRecord):
                await try_open(harness, copy)
        survivors = await harness.db["records"].find({"resource_id": "fabrikam"}).to_list()
        assert sorted(r["request_id"] for r in survivors) == kept
        assert [b"answer: hello" in await try_open(harness, r) for r in survivors] == [True] * 3
        entry = (await harness.audit_entries())[-1]["event"]
        assert (entry["actor"], entry["action"]) == ("customer:contoso", "customer-delete-content")


async def test_a_customer_managed_key_wraps_again_and_its_revocation_makes_data_unreadable(infra, tmp_path) -> None:
    key_dir = tmp_path / "customer-keys"
    key_dir.mkdir()
    (key_dir / "contoso-cmk.key").write_text(base64.b64encode(os.urandom(32)).decode())
    options = {"customer_key_dir": str(key_dir), "customer_keys": {"contoso": "contoso-cmk"}}
    async with running(infra, tmp_path, extra=options) as harness:
        [target, *_] = await harness.store_flagged("contoso", "cmk")
        key = await harness.db["data_keys"].find_one({"resource_id": "contoso"})
        assert key["layers"] == ["platform:platform-1", "customer:contoso-cmk"]
        grant_id = await harness.granted("contoso", target)
        async with harness.reviewer("alice") as alice:
            before = await alice.get(f"/review/records/contoso/{target}", headers={"x-review-grant": grant_id})
            (key_dir / "contoso-cmk.key").unlink()  # the customer revokes its key
            after = await alice.get(f"/review/records/contoso/{target}", headers={"x-review-grant": grant_id})
        assert before.status_code == 200
        assert after.status_code == 422 and after.json()["error"]["code"] == "unreadable_record"
