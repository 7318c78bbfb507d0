"""Rate-limit windows on the real control-plane store: concurrent charges from two replicas are
all counted (FerretDB v1 loses concurrent updates of one document; each replica counts in its own)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from pymongo import AsyncMongoClient

from services.gateway.adapters.mongo_windows import MongoWindowCounter

pytestmark = pytest.mark.mongo


async def test_concurrent_charges_of_two_replicas_are_all_counted(infra):
    client: AsyncMongoClient = AsyncMongoClient(infra.mongo)
    database = f"windows_{uuid.uuid4().hex[:10]}"
    replicas = [MongoWindowCounter(client, database, f"gw{i}") for i in (1, 2)]
    try:
        await replicas[0].create_indexes()
        results = await asyncio.gather(*(replicas[i % 2].add("contoso@1", 1, 10, expires_at=0) for i in range(60)))
        assert await replicas[0].add("contoso@1", 0, 0, expires_at=0) == (60, 600)
        # Every charge saw at least its own: the one that made the count n saw n or more.
        assert sorted(requests for requests, _ in results)[-1] == 60
        assert len({requests for requests, _ in results}) > 1
    finally:
        await client.drop_database(database)
        await client.close()
