"""Envelope encryption and crypto-shredding with fakes: keys, sweep, lowered retention, deletion."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from services.retention import customer
from services.retention.errors import AccessRefused, KeyWindowClosed, UnreadableRecord
from services.retention.handlers import store_interaction
from services.retention.keyring import Keyring, key_associated_data
from services.retention.records import associated_data, document_to_sealed
from services.retention.sweep import sweep
from services.runtime.sealing import Unreadable
from tests.unit.builders import REQUEST_ID, RESOURCE_ID
from tests.unit.retention_fakes import InMemoryKeyStore
from tests.unit.retention_world import COMPLETED_AT, World, interaction


async def open_record(world: World, record: dict, resource_id: str = RESOURCE_ID) -> dict:
    return json.loads(await world.keyring.open(resource_id, document_to_sealed(record["content"]),
                                               associated_data(resource_id, record["request_id"])))


async def test_a_wrapped_key_moved_to_another_day_or_resource_does_not_unwrap():
    world = World()
    await store_interaction(interaction(), world.ports)
    [key] = world.keys.keys.values()
    with pytest.raises(Unreadable):  # the shared provider's error; the keyring reports UnreadableRecord
        await world.platform.unwrap("platform-1", key.wrapped, key_associated_data("fabrikam/2025-03-14/00000000"))
    assert len(await world.platform.unwrap("platform-1", key.wrapped, key_associated_data(key.key_id))) == 32


async def test_without_the_platform_key_nothing_opens():
    world = World()
    await store_interaction(interaction(), world.ports)
    record = await world.records.get_record(RESOURCE_ID, REQUEST_ID)
    other = World(keys=world.keys, records=world.records)  # same store, a different platform key
    with pytest.raises(UnreadableRecord):
        await open_record(other, record)


async def test_the_sweep_destroys_expired_keys_and_deletes_expired_records_and_keeps_the_rest():
    world = World()
    await store_interaction(interaction(request_id="req_old-00001"), world.ports)
    await store_interaction(interaction(request_id="req_new-00001", completed_at=COMPLETED_AT + timedelta(days=5)),
                            world.ports)
    old = await world.records.get_record(RESOURCE_ID, "req_old-00001")

    world.clock.now = datetime(2025, 4, 13, tzinfo=UTC)  # day 2025-03-14's window has just ended
    report = await sweep(world.sweep)

    assert (report.keys_destroyed, report.records_deleted) == (1, 1)
    assert await world.records.get_record(RESOURCE_ID, "req_old-00001") is None
    assert await open_record(world, await world.records.get_record(RESOURCE_ID, "req_new-00001"))
    destroyed = next(k for k in world.keys.keys.values() if k.day == "2025-03-14")
    assert destroyed.wrapped is None and destroyed.destroyed_because == "retention window ended"
    with pytest.raises(UnreadableRecord, match="destroyed"):
        await open_record(world, old)  # a copy that outlived the sweep (a lagging replica, a backup)


async def test_a_lagging_sweep_leaves_nothing_readable_once_the_key_is_gone():
    world = World()
    await store_interaction(interaction(), world.ports)
    world.clock.now = datetime(2025, 4, 13, tzinfo=UTC)
    await world.keyring.destroy_due()  # the key step ran; the deletion step did not
    record = await world.records.get_record(RESOURCE_ID, REQUEST_ID)
    assert record is not None
    with pytest.raises(UnreadableRecord):
        await open_record(world, record)


async def test_no_key_is_made_for_a_day_whose_window_has_closed():
    world = World()
    world.clock.now = datetime(2025, 5, 1, tzinfo=UTC)
    with pytest.raises(KeyWindowClosed):
        await world.keyring.key_for_day(RESOURCE_ID, COMPLETED_AT, 30)
    assert world.keys.keys == {}


async def test_a_cached_key_is_not_used_past_its_window():
    world = World()
    await world.keyring.key_for_day(RESOURCE_ID, COMPLETED_AT, 30)
    world.clock.now = datetime(2025, 4, 13, tzinfo=UTC)
    with pytest.raises(KeyWindowClosed):
        await world.keyring.key_for_day(RESOURCE_ID, COMPLETED_AT, 30)


class BlindOnceKeyStore(InMemoryKeyStore):
    """Shares another store's keys but misses the day's key on the first look, as a racing replica does."""

    def __init__(self, shared: InMemoryKeyStore) -> None:
        super().__init__()
        self.keys = shared.keys
        self.looked = False

    async def active_key(self, resource_id: str, day: str):
        if not self.looked:
            self.looked = True
            return None
        return await super().active_key(resource_id, day)


async def test_two_writers_racing_for_a_days_key_end_up_with_one():
    world = World()
    first = await world.keyring.key_for_day(RESOURCE_ID, COMPLETED_AT, 30)
    racer = Keyring(BlindOnceKeyStore(world.keys), world.platform, "platform-1", clock=world.clock)

    again = await racer.key_for_day(RESOURCE_ID, COMPLETED_AT, 30)

    assert again.key_id == first.key_id and again.material == first.material
    assert len(world.keys.keys) == 1


async def test_lowering_a_resources_retention_shreds_and_deletes_its_older_days_only():
    world = World()
    for day in range(5):
        await store_interaction(interaction(request_id=f"req_day-{day:04d}",
                                            completed_at=COMPLETED_AT + timedelta(days=day)),
                                world.ports)
    await store_interaction(interaction(resource_id="fabrikam"), world.ports)
    world.clock.now = COMPLETED_AT + timedelta(days=4, hours=1)  # 2025-03-18

    result = await customer.set_retention(RESOURCE_ID, 2, world.customer)

    assert result["keys_destroyed"] == 3 and result["records_deleted"] == 3
    kept = sorted(r for (rid, r) in world.records.records if rid == RESOURCE_ID)
    assert kept == ["req_day-0003", "req_day-0004"]
    assert await world.records.get_record("fabrikam", REQUEST_ID) is not None
    entry = (await world.audit_store.entries("review/eu-west"))[-1]
    assert (entry.event.action, entry.event.reason) == ("customer-set-retention", "2 days")


@pytest.mark.parametrize("days", [0, 31])
async def test_retention_outside_one_to_the_maximum_is_refused(days: int):
    world = World()
    with pytest.raises(AccessRefused):
        await customer.set_retention(RESOURCE_ID, days, world.customer)
    assert world.policies.days == {}


async def test_customer_deletion_destroys_every_key_and_deletes_every_record_of_that_resource_only():
    world = World()
    for day in range(3):
        await store_interaction(interaction(request_id=f"req_del-{day:04d}",
                                            completed_at=COMPLETED_AT + timedelta(days=day)),
                                world.ports)
    await store_interaction(interaction(resource_id="fabrikam"), world.ports)
    copies = [dict(r) for (rid, _), r in world.records.records.items() if rid == RESOURCE_ID]  # a saved copy
    assert [len(await open_record(world, r)) for r in copies] == [2] * 3, "each copy opens before the deletion"

    result = await customer.delete_content(RESOURCE_ID, world.customer)

    assert result["keys_destroyed"] == 3 and result["records_deleted"] == 3
    assert await world.records.count_resource(RESOURCE_ID) == 0
    for copy in copies:  # its own request's associated data: only the destroyed key can refuse it
        with pytest.raises(UnreadableRecord, match="the data key was destroyed"):
            await open_record(world, copy)
    assert await open_record(world, await world.records.get_record("fabrikam", REQUEST_ID), "fabrikam")


async def test_after_a_deletion_new_records_get_a_fresh_key():
    world = World()
    await store_interaction(interaction(request_id="req_before-001"), world.ports)
    await customer.delete_content(RESOURCE_ID, world.customer)
    await store_interaction(interaction(request_id="req_after-0001"), world.ports)

    record = await world.records.get_record(RESOURCE_ID, "req_after-0001")
    assert (await open_record(world, record))["completions"]
    assert len(world.keys.keys) == 2
