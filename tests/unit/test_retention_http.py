"""The review and customer APIs over HTTP (ASGI, in memory): statuses, error shape, credentials."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from services.retention.review.http_customer import customer_app
from services.retention.review.http_review import CLIENT_CERT_STATE, review_app
from services.retention.review.identity import ReviewDirectory, sha256_hex
from services.retention.settings import ReviewerAccount, Workstation
from tests.unit.builders import RESOURCE_ID
from tests.unit.retention_world import World
from tests.unit.test_retention_review_access import FLAGGED, world_with_records

WORKSTATION_CERT = b"\x30\x82-a-registered-workstation-certificate"
DIRECTORY = ReviewDirectory(
    [Workstation(id="ws-1", certificate_sha256=sha256_hex(WORKSTATION_CERT))],
    [ReviewerAccount(id="alice", roles=["reviewer"], location="DE", token_sha256=sha256_hex(b"alice-token")),
     ReviewerAccount(id="bob", roles=["approver"], location="SE", token_sha256=sha256_hex(b"bob-token"))])
CUSTOMER_TOKEN = "contoso-customer-token"


def with_certificate(app: Any, certificate: bytes | None) -> Any:
    """What ClientCertificateProtocol does for a TLS connection: the peer certificate in the scope."""
    async def asgi(scope, receive, send):
        scope.setdefault("state", {})[CLIENT_CERT_STATE] = certificate
        await app(scope, receive, send)
    return asgi


@asynccontextmanager
async def review_client(world: World, certificate: bytes | None = WORKSTATION_CERT,
                        token: str | None = "alice-token") -> AsyncIterator[httpx.AsyncClient]:
    app = with_certificate(review_app(world.review, DIRECTORY), certificate)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="https://review", headers=headers) as c:
        yield c


def assert_refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code and response.json()["error"]["message"]


async def test_the_whole_review_flow_over_http():
    world = await world_with_records()
    async with review_client(world) as alice, review_client(world, token="bob-token") as bob:
        flags = (await alice.get("/review/flags")).json()["flags"]
        assert FLAGGED in flags[0]["request_ids"]
        asked = await alice.post("/review/grants", json={"resource_id": RESOURCE_ID, "request_id": FLAGGED,
                                                         "reason": "three jailbreaks in a minute"})
        assert asked.status_code == 201 and asked.json()["status"] == "requested"
        grant_id = asked.json()["grant_id"]
        assert (await bob.post(f"/review/grants/{grant_id}/approve")).json()["approved_by"] == "bob"
        read = await alice.get(f"/review/records/{RESOURCE_ID}/{FLAGGED}", headers={"x-review-grant": grant_id})
    assert read.status_code == 200 and read.json()["completions"]


async def test_refusals_have_a_code_and_a_status():
    world = await world_with_records()
    async with review_client(world) as alice:
        assert_refused(await alice.get(f"/review/records/{RESOURCE_ID}/{FLAGGED}"), 403, "no_grant")
        assert_refused(await alice.get(f"/review/records/{RESOURCE_ID}/req_missing-001"), 404, "not_found")
    async with review_client(world, token="wrong") as stranger:
        assert_refused(await stranger.get("/review/flags"), 401, "unauthenticated")
    async with review_client(world, certificate=b"another-certificate") as elsewhere:
        assert_refused(await elsewhere.get("/review/flags"), 403, "unregistered_workstation")


async def test_there_is_no_route_that_lists_or_searches_records():
    world = await world_with_records()
    async with review_client(world) as alice:
        for path in ("/review/records", f"/review/records/{RESOURCE_ID}", f"/review/records?resource_id={RESOURCE_ID}"):
            assert (await alice.get(path)).status_code in (404, 405), path
    paths = {route.path for route in review_app(world.review, DIRECTORY).routes}  # type: ignore[attr-defined]
    assert {p for p in paths if p.startswith("/review/records")} == {"/review/records/{resource_id}/{request_id}"}


@asynccontextmanager
async def customer_client(world: World, token: str = CUSTOMER_TOKEN) -> AsyncIterator[httpx.AsyncClient]:
    app = customer_app(world.customer, {RESOURCE_ID: sha256_hex(CUSTOMER_TOKEN.encode()),
                                        "fabrikam": sha256_hex(b"fabrikam-token")})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="https://customer",
                                 headers={"authorization": f"Bearer {token}"}) as client:
        yield client


async def test_a_customer_reads_its_own_access_log_and_nobody_elses():
    world = await world_with_records()
    async with review_client(world) as alice:
        await alice.get(f"/review/records/{RESOURCE_ID}/{FLAGGED}")
    async with customer_client(world) as owner:
        entries = (await owner.get(f"/customer/resources/{RESOURCE_ID}/access-log")).json()["entries"]
        assert_refused(await owner.get("/customer/resources/fabrikam/access-log"), 401, "unauthenticated")
    assert [(e["actor"], e["action"], e["request_id"], e["outcome"], e["reason"]) for e in entries] == [
        ("alice", "read-record", FLAGGED, "refused", "no_grant")]
    async with customer_client(world, token="fabrikam-token") as other:
        assert (await other.get("/customer/resources/fabrikam/access-log")).json()["entries"] == []


async def test_a_customer_sets_retention_and_deletes_content():
    world = await world_with_records()
    async with customer_client(world) as owner:
        assert (await owner.get(f"/customer/resources/{RESOURCE_ID}/retention")).json() == {
            "retention_days": 30, "maximum_days": 30}
        assert (await owner.put(f"/customer/resources/{RESOURCE_ID}/retention", json={"days": 7})).status_code == 200
        assert_refused(await owner.put(f"/customer/resources/{RESOURCE_ID}/retention", json={"days": 90}),
                       400, "retention_out_of_range")
        deleted = (await owner.delete(f"/customer/resources/{RESOURCE_ID}/content")).json()
    assert deleted["records_deleted"] == 4 and deleted["keys_destroyed"] == 1
    assert world.policies.days == {RESOURCE_ID: 7}
    assert await world.records.count_resource(RESOURCE_ID) == 0


async def test_a_changed_retention_reads_back_through_every_replica_at_once():
    here = await world_with_records()
    there = World(records=here.records, keys=here.keys, flags=here.flags, grants=here.grants,
                  audit_store=here.audit_store, policies=here.policies.replica())  # a second process
    async with customer_client(here) as via_here, customer_client(there) as via_there:
        url = f"/customer/resources/{RESOURCE_ID}/retention"
        assert (await via_there.get(url)).json()["retention_days"] == 30
        assert (await via_here.put(url, json={"days": 7})).status_code == 200
        assert (await via_there.get(url)).json() == {"retention_days": 7, "maximum_days": 30}, \
            "the owner behind a load balancer must read back what they set"
