"""Human review on the real broker and store, over mutual TLS: one named test per promise.

Records reach the store through the retention service's Kafka consumer; reviewers call the
review API over HTTPS from workstation certificates; every attempt lands in the audit chain.
"""

from __future__ import annotations

import ssl
from datetime import timedelta

import httpx
import pytest

from tests.integration.retention_harness import SAFE, interaction, running

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


@pytest.fixture(scope="module")
async def harness(infra, tmp_path_factory):
    async with running(infra, tmp_path_factory.mktemp("review")) as harness:
        yield harness


def assert_refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


async def last_audit(harness) -> dict:
    return (await harness.audit_entries())[-1]


async def test_a_flagged_record_is_read_by_request_id_under_a_grant_approved_by_another_person(harness) -> None:
    [_, _, target] = await harness.store_flagged("contoso", "happy")
    grant_id = await harness.granted("contoso", target)
    async with harness.reviewer("alice") as alice:
        response = await alice.get(f"/review/records/contoso/{target}", headers={"x-review-grant": grant_id})
    assert response.status_code == 200, response.text
    assert response.json()["completions"] == ["answer: hello"] and response.json()["signals"] == ["jailbreak"]
    entry = await last_audit(harness)
    assert (entry["event"]["actor"], entry["event"]["action"], entry["event"]["outcome"], entry["event"]["grant_id"]) \
        == ("alice", "read-record", "granted", grant_id)


async def test_unflagged_read_refused(harness) -> None:
    await harness.store(interaction(harness.region, "contoso", "clean-record-1", prompt_results=SAFE))
    async with harness.reviewer("alice") as alice:
        asked = await alice.post("/review/grants", json={"resource_id": "contoso", "request_id": "clean-record-1",
                                                         "reason": "curious"})
        read = await alice.get("/review/records/contoso/clean-record-1")
    assert_refused(asked, 403, "not_flagged")
    assert_refused(read, 403, "not_flagged")
    assert (await last_audit(harness))["event"]["reason"] == "not_flagged"


async def test_read_without_grant_refused(harness) -> None:
    [target, *_] = await harness.store_flagged("contoso", "nogrant")
    async with harness.reviewer("alice") as alice:
        without = await alice.get(f"/review/records/contoso/{target}")
        made_up = await alice.get(f"/review/records/contoso/{target}", headers={"x-review-grant": "grant-forged"})
        asked = await alice.post("/review/grants", json={"resource_id": "contoso", "request_id": target,
                                                         "reason": "pattern"})
        unapproved = await alice.get(f"/review/records/contoso/{target}",
                                     headers={"x-review-grant": asked.json()["grant_id"]})
    assert_refused(without, 403, "no_grant")
    assert_refused(made_up, 403, "grant_other_record")
    assert_refused(unapproved, 403, "grant_not_approved")
    assert "answer" not in without.text + made_up.text + unapproved.text


async def test_self_approval_refused(harness) -> None:
    [target, *_] = await harness.store_flagged("contoso", "selfapproval")
    async with harness.reviewer("carol") as carol:
        asked = await carol.post("/review/grants", json={"resource_id": "contoso", "request_id": target,
                                                         "reason": "pattern"})
        approved = await carol.post(f"/review/grants/{asked.json()['grant_id']}/approve")
        read = await carol.get(f"/review/records/contoso/{target}",
                               headers={"x-review-grant": asked.json()["grant_id"]})
    assert_refused(approved, 403, "self_approval")
    assert_refused(read, 403, "grant_not_approved")
    grant = await harness.db["grants"].find_one({"_id": asked.json()["grant_id"]})
    assert grant["status"] == "requested" and grant["approved_by"] is None


async def test_expired_grant_refused(harness) -> None:
    [target, *_] = await harness.store_flagged("contoso", "expiredgrant")
    grant_id = await harness.granted("contoso", target)
    harness.clock.offset = timedelta(seconds=harness.settings.grant_ttl_s + 1)
    try:
        async with harness.reviewer("alice") as alice:
            read = await alice.get(f"/review/records/contoso/{target}", headers={"x-review-grant": grant_id})
    finally:
        harness.clock.offset = timedelta(0)
    assert_refused(read, 403, "grant_expired")
    assert (await last_audit(harness))["event"]["reason"] == "grant_expired"


async def test_non_eea_reviewer_refused_for_eea_data(harness) -> None:
    assert harness.settings.region_in_eea
    [target, *_] = await harness.store_flagged("contoso", "eea")
    async with harness.reviewer("dave") as dave:
        asked = await dave.post("/review/grants", json={"resource_id": "contoso", "request_id": target,
                                                        "reason": "pattern"})
        read = await dave.get(f"/review/records/contoso/{target}")
    assert_refused(asked, 403, "location_not_eea")
    assert_refused(read, 403, "location_not_eea")
    assert await harness.db["grants"].count_documents({"requested_by": "dave"}) == 0


async def test_mtls_without_a_registered_client_cert_refused(harness) -> None:
    url = f"https://127.0.0.1:{harness.settings.review_port}/review/flags"
    headers = {"authorization": f"Bearer {harness.tokens['alice']}"}
    for identity in (None, harness.rogue):  # no certificate; one from a CA the server does not trust
        async with httpx.AsyncClient(verify=harness.pki.client_context(identity), timeout=5) as client:
            with pytest.raises((httpx.TransportError, ssl.SSLError)):
                await client.get(url, headers=headers)
    before = len(await harness.audit_entries())
    async with harness.reviewer("alice", harness.unregistered) as unregistered:  # right CA, not registered
        refused = await unregistered.get("/review/flags")
    assert_refused(refused, 403, "unregistered_workstation")
    entries = await harness.audit_entries()
    assert len(entries) == before + 1
    assert entries[-1]["event"]["workstation"] == f"unregistered:{harness.unregistered.sha256[:16]}"
    async with harness.reviewer("alice") as registered:
        assert (await registered.get("/review/flags")).status_code == 200


async def test_customers_read_who_accessed_their_records_and_under_which_grant(harness) -> None:
    [target, *_] = await harness.store_flagged("fabrikam", "transparency")
    grant_id = await harness.granted("fabrikam", target)
    async with harness.reviewer("alice") as alice:
        await alice.get(f"/review/records/fabrikam/{target}", headers={"x-review-grant": grant_id})
    async with harness.customer("fabrikam") as owner:
        log = (await owner.get("/customer/resources/fabrikam/access-log")).json()["entries"]
        other = await owner.get("/customer/resources/contoso/access-log")
    reads = [(e["actor"], e["request_id"], e["grant_id"], e["outcome"]) for e in log if e["action"] == "read-record"]
    assert reads == [("alice", target, grant_id, "granted")]
    assert {e["actor"] for e in log if e["action"] == "approve-grant"} == {"bob"}
    assert all(e["at"] for e in log)
    assert_refused(other, 401, "unauthenticated")
