"""Retention's bus handler with fakes and the real keyring: sealing, expiry, idempotence, flags."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts.common import ChatMessage
from services.retention.errors import UnreadableRecord, WrongRegion
from services.retention.flagging import Rule
from services.retention.handlers import prepare_record, store_interaction, store_records
from services.retention.model import SealedContent
from services.retention.records import associated_data, document_to_sealed
from tests.unit.builders import REGION, REQUEST_ID, RESOURCE_ID
from tests.unit.retention_world import CANARY, COMPLETED_AT, HIGH_HATE, JAILBREAK, SAFE, World, interaction


async def open_content(world: World, record: dict[str, Any], resource_id: str = RESOURCE_ID,
                       request_id: str = REQUEST_ID) -> dict:
    return json.loads(await world.keyring.open(resource_id, document_to_sealed(record["content"]),
                                               associated_data(resource_id, request_id)))


async def stored(world: World, request_id: str = REQUEST_ID) -> dict[str, Any]:
    record = await world.records.get_record(RESOURCE_ID, request_id)
    assert record is not None
    return record


async def test_content_is_stored_sealed_under_the_days_data_key_and_opens_to_the_original():
    world = World()
    event = interaction()
    await store_interaction(event, world.ports)

    record = await stored(world)
    assert CANARY not in repr(record)
    assert record["content"]["alg"] == "AES-256-GCM"
    assert record["content"]["key_id"].startswith(f"{RESOURCE_ID}/2025-03-14/")
    content = await open_content(world, record)
    assert [ChatMessage(**m) for m in content["messages"]] == event.messages
    assert content["completions"] == event.completions


async def test_the_data_key_is_stored_only_wrapped():
    world = World()
    await store_interaction(interaction(), world.ports)

    [key] = world.keys.keys.values()
    assert key.layers == ("platform:platform-1",)
    assert key.wrapped is not None and len(key.wrapped) == 12 + 32 + 16  # nonce, key, tag
    cached = world.keyring._cache[(RESOURCE_ID, "2025-03-14")][0].material
    assert cached not in key.wrapped


async def test_a_resource_with_a_customer_managed_key_is_wrapped_twice():
    world = World(customer_keys={RESOURCE_ID: "cmk-1"})
    await store_interaction(interaction(), world.ports)

    [key] = world.keys.keys.values()
    assert key.layers == ("platform:platform-1", "customer:cmk-1")
    world.customer_provider.revoked = True
    with pytest.raises(UnreadableRecord):
        await open_content(world, await stored(world))


async def test_one_key_per_resource_and_day():
    world = World()
    await store_interaction(interaction(request_id="req_0001-aaaa"), world.ports)
    await store_interaction(interaction(request_id="req_0002-bbbb", completed_at=COMPLETED_AT + timedelta(hours=3)),
                            world.ports)
    await store_interaction(interaction(request_id="req_0003-cccc", completed_at=COMPLETED_AT + timedelta(days=1)),
                            world.ports)
    await store_interaction(interaction(request_id="req_0004-dddd", resource_id="fabrikam"), world.ports)

    days = sorted((k.resource_id, k.day) for k in world.keys.keys.values())
    assert days == [(RESOURCE_ID, "2025-03-14"), (RESOURCE_ID, "2025-03-15"), ("fabrikam", "2025-03-14")]


async def test_ids_metadata_and_filter_results_are_kept_in_clear():
    world = World()
    await store_interaction(interaction(prompt_filter_results=[SAFE]), world.ports)

    record = await stored(world)
    assert (record["region"], record["status"], record["finish_reasons"]) == (REGION, 200, ["stop", "stop"])
    assert record["citation_ids"] == ["65f2a1b2c3d4e5f601234567"]
    assert record["prompt_filter_results"] == [SAFE]
    assert record["signals"] == [] and record["flagged"] is False


@pytest.mark.parametrize(("resource_id", "request_id"), [(RESOURCE_ID, "req_0002-other"), ("fabrikam-eu", REQUEST_ID)])
async def test_content_does_not_open_for_another_request_or_resource(resource_id: str, request_id: str):
    world = World()
    await store_interaction(interaction(), world.ports)

    with pytest.raises(UnreadableRecord):
        await open_content(world, await stored(world), resource_id, request_id)


async def test_altered_ciphertext_does_not_open():
    world = World()
    await store_interaction(interaction(), world.ports)

    sealed = document_to_sealed((await stored(world))["content"])
    flipped = bytearray(sealed.ciphertext)
    flipped[len(flipped) // 2] ^= 0x01
    with pytest.raises(UnreadableRecord):
        await world.keyring.open(RESOURCE_ID, SealedContent(sealed.key_id, sealed.nonce, bytes(flipped)),
                                 associated_data(RESOURCE_ID, REQUEST_ID))


async def test_content_logging_off_stores_no_content_and_makes_no_key_even_if_the_event_carries_some():
    world = World()
    await store_interaction(interaction(content_logging=False), world.ports)

    record = await stored(world)
    assert record["content"] is None and record["content_logging"] is False
    assert CANARY not in repr(record)
    assert world.keys.keys == {}
    assert record["status"] == 200 and record["finish_reasons"] == ["stop", "stop"]


async def test_a_record_expires_at_the_start_of_the_utc_day_a_retention_period_after_its_own():
    world = World()
    await store_interaction(interaction(), world.ports)

    record = await stored(world)
    assert record["completed_at"] == COMPLETED_AT
    assert record["expires_at"] == datetime(2025, 4, 13, 0, 0, tzinfo=UTC)
    assert record["expires_at"] - record["completed_at"] <= timedelta(days=30)
    [key] = world.keys.keys.values()
    assert key.destroy_at == record["expires_at"]


async def test_a_resources_lower_retention_shortens_its_window():
    world = World()
    world.policies.days[RESOURCE_ID] = 7
    await store_interaction(interaction(), world.ports)

    record = await stored(world)
    assert record["expires_at"] == datetime(2025, 3, 21, tzinfo=UTC) and record["retention_days"] == 7


async def test_a_resource_cannot_raise_its_retention_above_the_maximum():
    world = World(max_days=14)
    world.policies.days[RESOURCE_ID] = 30
    await store_interaction(interaction(), world.ports)

    assert (await stored(world))["expires_at"] == datetime(2025, 3, 28, tzinfo=UTC)


async def test_an_event_arriving_after_its_window_stores_nothing_and_creates_no_key():
    world = World()
    world.clock.now = COMPLETED_AT + timedelta(days=31)
    await store_interaction(interaction(), world.ports)

    assert world.records.records == {} and world.keys.keys == {}


async def test_record_of_another_region_is_refused_and_not_stored():
    world = World()
    with pytest.raises(WrongRegion):
        await store_interaction(interaction(region="us-east"), world.ports)
    assert world.records.records == {}


async def test_storing_the_same_interaction_twice_keeps_one_record():
    world = World()
    await store_interaction(interaction(), world.ports)
    await store_interaction(interaction(completions=["a replayed answer"]), world.ports)

    assert list(world.records.records) == [(RESOURCE_ID, REQUEST_ID)]
    record = world.records.records[(RESOURCE_ID, REQUEST_ID)]
    assert record["_id"] == f"{RESOURCE_ID}/{REQUEST_ID}"
    assert (await open_content(world, record))["completions"] == [f"Your secret is {CANARY}", "I will not repeat it."]


async def test_repeated_jailbreaks_of_one_end_user_flag_every_record_of_the_pattern():
    world = World()
    for i in range(3):
        await store_interaction(interaction(request_id=f"req_jb-{i:04d}",
                                            completed_at=COMPLETED_AT + timedelta(minutes=i),
                                            prompt_filter_results=[JAILBREAK]), world.ports)

    [flag] = world.flags.flags.values()
    assert flag.rule == "repeated-jailbreak" and flag.end_user == "user-42"
    assert flag.request_ids == ("req_jb-0000", "req_jb-0001", "req_jb-0002")
    assert [(await stored(world, f"req_jb-{i:04d}"))["flagged"] for i in range(3)] == [True, True, True]
    assert (await stored(world, "req_jb-0000"))["flag_ids"] == [flag.flag_id]


async def test_other_end_users_and_clean_records_are_not_swept_into_a_flag():
    world = World()
    await store_interaction(interaction(request_id="req_clean-0001", prompt_filter_results=[SAFE]), world.ports)
    await store_interaction(interaction(request_id="req_other-0001", end_user="someone-else",
                                        prompt_filter_results=[HIGH_HATE]), world.ports)
    for i in range(3):
        await store_interaction(interaction(request_id=f"req_hate-{i:04d}",
                                            completed_at=COMPLETED_AT + timedelta(minutes=i),
                                            completion_filter_results=[HIGH_HATE]), world.ports)

    [flag] = world.flags.flags.values()
    assert flag.rule == "repeated-high-severity"
    assert set(flag.request_ids) == {"req_hate-0000", "req_hate-0001", "req_hate-0002"}
    assert not (await stored(world, "req_clean-0001"))["flagged"]
    assert not (await stored(world, "req_other-0001"))["flagged"]


async def test_a_redelivered_trigger_raises_the_same_flag_once():
    world = World(rules=(Rule("jb", "jailbreak", "end_user", 1, timedelta(hours=1)),))
    await store_interaction(interaction(prompt_filter_results=[JAILBREAK]), world.ports)
    await store_interaction(interaction(prompt_filter_results=[JAILBREAK]), world.ports)

    assert list(world.flags.flags) == [f"{RESOURCE_ID}/jb/{REQUEST_ID}"]


async def test_a_retention_lowered_during_the_day_shortens_the_window_of_that_days_later_records():
    world = World()
    await store_interaction(interaction(request_id="req_before-001"), world.ports)
    await world.policies.set_retention_days(RESOURCE_ID, 1)
    await store_interaction(interaction(request_id="req_after-0001"), world.ports)

    assert (await stored(world, "req_before-001"))["expires_at"] == datetime(2025, 4, 13, tzinfo=UTC)
    assert (await stored(world, "req_after-0001"))["expires_at"] == datetime(2025, 3, 15, tzinfo=UTC)


async def test_a_long_jailbreak_streak_flags_each_record_once_and_never_relists_the_streak():
    world = World()
    for i in range(10):
        await store_interaction(interaction(request_id=f"req_jb-{i:04d}",
                                            completed_at=COMPLETED_AT + timedelta(minutes=i),
                                            prompt_filter_results=[JAILBREAK]), world.ports)

    flags = sorted(world.flags.flags.values(), key=lambda f: f.window_end)
    assert [len(f.request_ids) for f in flags] == [3, 1, 1, 1, 1, 1, 1, 1]
    named = [rid for f in flags for rid in f.request_ids]
    assert sorted(named) == [f"req_jb-{i:04d}" for i in range(10)]
    assert {tuple(r["flag_rules"]) for r in world.records.records.values()} == {("repeated-jailbreak",)}
    assert flags[-1].window_count == 10


async def test_a_batch_with_a_redelivered_record_stores_the_new_ones_only():
    world = World()
    await store_interaction(interaction(request_id="req_first-001"), world.ports)
    records = [await prepare_record(interaction(request_id=r), world.ports)
               for r in ("req_first-001", "req_second-01", "req_third-001")]
    await store_records([r for r in records if r], world.ports)

    assert sorted(rid for _, rid in world.records.records) == ["req_first-001", "req_second-01", "req_third-001"]
