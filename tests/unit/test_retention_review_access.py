"""The review rules with fakes and the real keyring: who may read which record, and the audit."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from services.retention.errors import AccessRefused, AuditUnavailable
from services.retention.handlers import store_interaction
from services.retention.model import Grant, SealedContent
from services.retention.records import document_to_sealed, sealed_to_document
from services.retention.review import access
from services.retention.review.identity import Caller, Reviewer
from tests.unit.builders import RESOURCE_ID
from tests.unit.retention_world import CANARY, COMPLETED_AT, JAILBREAK, SAFE, World, interaction

ALICE = Caller("ws-1", Reviewer("alice", frozenset({"reviewer"}), "DE"))
BOB = Caller("ws-2", Reviewer("bob", frozenset({"approver"}), "FR"))
CAROL = Caller("ws-1", Reviewer("carol", frozenset({"reviewer", "approver"}), "NL"))
DAVE = Caller("ws-3", Reviewer("dave", frozenset({"reviewer"}), "US"))
FLAGGED = "req_jb-0002"
CLEAN = "req_clean-0001"


async def world_with_records(**options) -> World:
    world = World(**options)
    for i in range(3):
        await store_interaction(interaction(request_id=f"req_jb-{i:04d}",
                                            completed_at=COMPLETED_AT + timedelta(minutes=i),
                                            prompt_filter_results=[JAILBREAK]), world.ports)
    await store_interaction(interaction(request_id=CLEAN, prompt_filter_results=[SAFE]), world.ports)
    return world


async def approved_grant(world: World, reviewer: Caller = ALICE, request_id: str = FLAGGED) -> Grant:
    grant = await access.request_grant(reviewer, RESOURCE_ID, request_id, "repeated jailbreaks", world.review)
    return await access.approve_grant(BOB, grant.grant_id, world.review)


async def refused(call) -> str:
    with pytest.raises(AccessRefused) as caught:
        await call
    return caught.value.reason


async def last_audit(world: World):
    return (await world.audit_store.entries("review/eu-west"))[-1]


async def test_a_flagged_record_is_readable_under_a_grant_approved_by_someone_else():
    world = await world_with_records()
    grant = await approved_grant(world)

    record = await access.read_record(ALICE, RESOURCE_ID, FLAGGED, grant.grant_id, world.review)

    assert CANARY in record["messages"][1]["content"]
    assert record["signals"] == ["jailbreak"] and record["flag_ids"]
    actions = [(e.event.action, e.event.outcome, e.event.actor)
               for e in await world.audit_store.entries("review/eu-west")]
    assert actions == [("request-grant", "granted", "alice"), ("approve-grant", "granted", "bob"),
                       ("read-record", "granted", "alice")]
    assert (await world.audit.verify()).ok


async def test_an_unflagged_record_cannot_be_requested_nor_read_even_with_a_grant():
    world = await world_with_records()
    assert await refused(access.request_grant(ALICE, RESOURCE_ID, CLEAN, "curious", world.review)) == "not_flagged"
    await world.grants.insert_grant(Grant("grant-smuggled", RESOURCE_ID, CLEAN, "alice", "x", COMPLETED_AT,
                                          COMPLETED_AT + timedelta(days=30), "approved", "bob", COMPLETED_AT,
                                          COMPLETED_AT + timedelta(days=1)))
    assert await refused(access.read_record(ALICE, RESOURCE_ID, CLEAN, "grant-smuggled", world.review)) == "not_flagged"
    assert (await last_audit(world)).event.outcome == "refused"


async def test_reading_without_a_grant_is_refused_and_audited():
    world = await world_with_records()
    assert await refused(access.read_record(ALICE, RESOURCE_ID, FLAGGED, None, world.review)) == "no_grant"
    entry = await last_audit(world)
    assert (entry.event.action, entry.event.outcome, entry.event.reason) == ("read-record", "refused", "no_grant")


async def test_a_reviewer_cannot_approve_their_own_grant():
    world = await world_with_records()
    grant = await access.request_grant(CAROL, RESOURCE_ID, FLAGGED, "pattern", world.review)
    assert await refused(access.approve_grant(CAROL, grant.grant_id, world.review)) == "self_approval"
    assert (await world.grants.get_grant(grant.grant_id)).status == "requested"
    assert await refused(access.read_record(CAROL, RESOURCE_ID, FLAGGED, grant.grant_id, world.review)) \
        == "grant_not_approved"


async def test_a_self_approved_grant_in_the_store_is_still_refused_at_read_time():
    world = await world_with_records()
    grant = await access.request_grant(CAROL, RESOURCE_ID, FLAGGED, "pattern", world.review)
    await world.grants.approve(grant.grant_id, "carol", COMPLETED_AT, COMPLETED_AT + timedelta(days=1))
    assert await refused(access.read_record(CAROL, RESOURCE_ID, FLAGGED, grant.grant_id, world.review)) \
        == "self_approval"


async def test_only_approvers_approve_and_only_reviewers_request():
    world = await world_with_records()
    assert await refused(access.request_grant(BOB, RESOURCE_ID, FLAGGED, "x", world.review)) == "wrong_role"
    grant = await access.request_grant(ALICE, RESOURCE_ID, FLAGGED, "x", world.review)
    assert await refused(access.approve_grant(DAVE, grant.grant_id, world.review)) == "wrong_role"


async def test_an_expired_grant_is_refused():
    world = await world_with_records()
    grant = await approved_grant(world)
    world.clock.advance(minutes=15)
    assert await refused(access.read_record(ALICE, RESOURCE_ID, FLAGGED, grant.grant_id, world.review)) \
        == "grant_expired"


async def test_a_grant_names_one_reviewer_and_one_record():
    world = await world_with_records()
    grant = await approved_grant(world)
    assert await refused(access.read_record(CAROL, RESOURCE_ID, FLAGGED, grant.grant_id, world.review)) \
        == "grant_other_reviewer"
    assert await refused(access.read_record(ALICE, RESOURCE_ID, "req_jb-0001", grant.grant_id, world.review)) \
        == "grant_other_record"


async def test_a_grant_is_approved_once():
    world = await world_with_records()
    grant = await approved_grant(world)
    assert await refused(access.approve_grant(BOB, grant.grant_id, world.review)) == "already_decided"


async def test_a_reviewer_outside_the_eea_is_refused_for_an_eea_region_only():
    world = await world_with_records()
    assert await refused(access.request_grant(DAVE, RESOURCE_ID, FLAGGED, "x", world.review)) == "location_not_eea"
    assert await refused(access.read_record(DAVE, RESOURCE_ID, FLAGGED, None, world.review)) == "location_not_eea"

    elsewhere = await world_with_records(region_in_eea=False)
    grant = await approved_grant(elsewhere, reviewer=DAVE)
    assert (await access.read_record(DAVE, RESOURCE_ID, FLAGGED, grant.grant_id, elsewhere.review))["messages"]


async def test_an_unregistered_workstation_or_an_unknown_person_is_refused_and_audited():
    world = await world_with_records()
    stranger = Caller(None, ALICE.reviewer, certificate_sha256="ab" * 32)
    assert await refused(access.list_flags(stranger, world.review)) == "unregistered_workstation"
    assert (await last_audit(world)).event.workstation == "unregistered:" + "ab" * 8
    assert await refused(access.list_flags(Caller("ws-1", None), world.review)) == "unauthenticated"


async def test_a_tampered_ciphertext_is_reported_never_served():
    world = await world_with_records()
    grant = await approved_grant(world)
    record = world.records.records[(RESOURCE_ID, FLAGGED)]
    sealed = document_to_sealed(record["content"])
    altered = bytearray(sealed.ciphertext)
    altered[3] ^= 0x80
    record["content"] = sealed_to_document(SealedContent(sealed.key_id, sealed.nonce, bytes(altered)))

    assert await refused(access.read_record(ALICE, RESOURCE_ID, FLAGGED, grant.grant_id, world.review)) \
        == "unreadable_record"
    assert (await last_audit(world)).event.reason == "unreadable_record"


async def test_an_expired_record_or_one_without_content_is_not_reviewable():
    world = await world_with_records()
    await store_interaction(interaction(request_id="req_quiet-0001", content_logging=False,
                                        completed_at=COMPLETED_AT + timedelta(minutes=3),
                                        prompt_filter_results=[JAILBREAK]), world.ports)
    assert world.records.records[(RESOURCE_ID, "req_quiet-0001")]["flagged"]
    assert await refused(access.request_grant(ALICE, RESOURCE_ID, "req_quiet-0001", "x", world.review)) == "no_content"
    world.clock.advance(days=31)
    assert await refused(access.request_grant(ALICE, RESOURCE_ID, FLAGGED, "x", world.review)) == "record_expired"


class BrokenAudit:
    chain = "review/eu-west"

    async def append(self, event):
        raise AuditUnavailable("audit store down")


async def test_content_is_not_returned_when_its_access_cannot_be_audited():
    world = await world_with_records()
    grant = await approved_grant(world)
    broken = dataclasses.replace(world.review, audit=BrokenAudit())  # type: ignore[arg-type]
    with pytest.raises(AuditUnavailable):
        await access.read_record(ALICE, RESOURCE_ID, FLAGGED, grant.grant_id, broken)
