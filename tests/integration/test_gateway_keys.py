"""Key regeneration on the real control-plane store: each slot is one atomic update, so
regenerating key1 and key2 at the same moment keeps both new keys."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from pymongo import AsyncMongoClient

from contracts.base import utc_now
from services.gateway.adapters.mongo_resources import MongoResourceDirectory
from services.gateway.resources import Resource

pytestmark = pytest.mark.mongo


async def test_concurrent_regeneration_of_both_slots_loses_neither(infra):
    client: AsyncMongoClient = AsyncMongoClient(infra.mongo, tz_aware=True)
    database = f"keys_{uuid.uuid4().hex[:10]}"
    directory = MongoResourceDirectory(client, database)
    try:
        await directory.create(Resource(resource_id="contoso", region="eu-west", created_at=utc_now()),
                               {"key1": "old-1", "key2": "old-2"})
        for round_ in range(10):
            new = {"key1": f"new-1-{round_}", "key2": f"new-2-{round_}"}
            assert all(await asyncio.gather(*(directory.set_key_hash("contoso", slot, h) for slot, h in new.items())))
            for slot, key_hash in new.items():
                found = await directory.find_by_key_hash(key_hash)
                assert found is not None and found.resource_id == "contoso", f"round {round_}: {slot} lost"
        assert await directory.find_by_key_hash("old-1") is None and await directory.find_by_key_hash("old-2") is None
        assert not await directory.set_key_hash("nobody", "key1", "x")
    finally:
        await client.drop_database(database)
        await client.close()


async def test_keys_of_a_resource_made_before_resource_keys_move_there_once(infra):
    client: AsyncMongoClient = AsyncMongoClient(infra.mongo, tz_aware=True)
    database = f"keys_{uuid.uuid4().hex[:10]}"
    directory = MongoResourceDirectory(client, database)
    try:
        await client[database]["resources"].insert_one({
            "_id": "legacy", "region": "eu-west", "content_logging": True, "deployments": [], "limits": {},
            "created_at": utc_now(), "key_slots": {"key1": "h1", "key2": "h2"}, "key_hashes": ["h1", "h2"]})
        await directory.create_indexes()
        await directory.create_indexes()  # a second replica starting
        assert (await directory.find_by_key_hash("h1")).resource_id == "legacy"
        assert await directory.set_key_hash("legacy", "key2", "h2-new")
        assert await directory.find_by_key_hash("h2") is None
        assert (await directory.find_by_key_hash("h2-new")).resource_id == "legacy"
        assert "key_slots" not in await client[database]["resources"].find_one({"_id": "legacy"})
    finally:
        await client.drop_database(database)
        await client.close()
