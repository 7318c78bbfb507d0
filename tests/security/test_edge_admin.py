"""Items: an admin key of at least 32 characters (the gateway refuses to start otherwise); the
admin API on its own listener; atomic key regeneration per slot."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import ROOT
from tests.security.edge_support import assert_refused, timed, unique

pytestmark = pytest.mark.stack


@pytest.mark.parametrize("key", ["", "short-admin-key", "k" * 31], ids=["empty", "short", "31 characters"])
def test_the_gateway_refuses_to_start_with_an_admin_key_under_32_characters(stack, key):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESIDENCY_GATEWAY_")}
    env.update(RESIDENCY_GATEWAY_ADMIN_KEY=key, RESIDENCY_GATEWAY_REGION=stack.region,
               RESIDENCY_GATEWAY_KAFKA_BOOTSTRAP=stack.infra.kafka, RESIDENCY_GATEWAY_MONGO_URI=stack.infra.mongo,
               RESIDENCY_GATEWAY_PORT="0", RESIDENCY_GATEWAY_ADMIN_PORT="1", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "services.gateway"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0
    assert "RESIDENCY_GATEWAY_ADMIN_KEY must be at least 32 characters" in done.stderr
    if key:
        assert key not in done.stderr, "the refusal must not print the key"


def test_the_admin_api_answers_only_on_its_own_listener(stack):
    resource_id = unique("edge-admin")
    stack.create_resource(resource_id, {"echo": "echo"})
    credential = {"authorization": f"Bearer {stack.admin_key}"}
    for public in stack.gateways:
        with httpx.Client(base_url=public, headers=credential, timeout=10) as gateway:
            assert_refused(timed(gateway, "GET", f"/admin/resources/{resource_id}"), 404)
            assert_refused(timed(gateway, "POST", "/admin/resources", json={"region": stack.region}), 404)
    with stack.admin() as admin:
        assert admin.get(f"/admin/resources/{resource_id}").json()["resource_id"] == resource_id
        assert_refused(timed(admin, "GET", f"/admin/resources/{resource_id}", headers={"authorization": "Bearer"}),
                       401, "401")


def test_concurrent_regeneration_of_key1_and_key2_keeps_both_new_keys(stack):
    resource_id = unique("edge-keys")
    old = stack.create_resource(resource_id, {"echo": "echo"})["keys"]

    def regenerate(slot: str) -> str:
        with stack.admin() as admin:
            response = admin.post(f"/admin/resources/{resource_id}/keys/{slot}/regenerate")
        assert response.status_code == 200, response.text
        return response.json()[slot]

    def works(key: str) -> bool:
        with httpx.Client(base_url=stack.gateways[0], headers={"api-key": key}, timeout=10) as gateway:
            return gateway.get("/v1/models").status_code == 200

    for _ in range(5):
        with ThreadPoolExecutor(max_workers=2) as pool:
            key1, key2 = pool.map(regenerate, ["key1", "key2"])
        assert works(key1) and works(key2), "a concurrent regeneration of the other slot lost this one"
    assert not works(old["key1"]) and not works(old["key2"])
