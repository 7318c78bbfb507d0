"""Where the filter finds a resource's policy: the region's MongoDB (cached briefly) or settings.

The policy store is the filter's own collection ``filter_policies`` in ``residency_filter_<region>``,
one document per resource, written with ``just filter-policy`` (services/filter/policy_cli.py).
A resource without a document gets the default policy (Azure's defaults). Deployment names may
hold dots, which FerretDB v1 refuses in keys, so per-deployment policies are stored as a list.
The cache is keyed by resource ID and holds configuration only, never screened text.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pymongo import AsyncMongoClient

from services.filter.policy import EffectivePolicy, FilterPolicy, ResourcePolicy

COLLECTION = "filter_policies"


def to_document(policy: ResourcePolicy) -> dict[str, Any]:
    body = policy.model_dump(mode="json")
    body["_id"] = body.pop("resource_id")
    body["deployments"] = [{"name": n, "policy": p} for n, p in body["deployments"].items()]
    return body


def from_document(document: dict[str, Any]) -> ResourcePolicy:
    body = dict(document)
    body["resource_id"] = body.pop("_id")
    body["deployments"] = {d["name"]: d["policy"] for d in body.get("deployments", [])}
    return ResourcePolicy.model_validate(body)


class MongoPolicyStore:
    def __init__(self, client: AsyncMongoClient, database: str) -> None:
        self._client = client
        self._policies = client[database][COLLECTION]

    async def close(self) -> None:
        await self._client.close()

    async def load(self, resource_id: str) -> ResourcePolicy | None:
        document = await self._policies.find_one({"_id": resource_id})
        return from_document(document) if document else None

    async def put(self, policy: ResourcePolicy) -> None:
        document = to_document(policy)
        await self._policies.replace_one({"_id": document["_id"]}, document, upsert=True)

    async def delete(self, resource_id: str) -> bool:
        return (await self._policies.delete_one({"_id": resource_id})).deleted_count == 1


class CachedPolicies:
    """Policies from a store, each kept ``ttl_s`` seconds; a store outage propagates (the message is retried)."""

    def __init__(self, store: MongoPolicyStore, ttl_s: float = 30.0, default: FilterPolicy | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._store, self._ttl_s, self._clock = store, ttl_s, clock
        self._default = default or FilterPolicy()
        self._cache: dict[str, tuple[float, ResourcePolicy | None]] = {}

    async def policy_for(self, resource_id: str, deployment: str) -> EffectivePolicy:
        cached = self._cache.get(resource_id)
        if cached is None or self._clock() - cached[0] > self._ttl_s:
            cached = (self._clock(), await self._store.load(resource_id))
            self._cache[resource_id] = cached
        resource = cached[1] or ResourcePolicy(resource_id=resource_id, default=self._default)
        return resource.for_deployment(deployment)


class StaticPolicies:
    """One policy for every resource (tests, or a single-tenant deployment without a store)."""

    def __init__(self, policy: FilterPolicy | None = None, resources: dict[str, ResourcePolicy] | None = None) -> None:
        self._default = policy or FilterPolicy()
        self._resources = resources or {}

    async def policy_for(self, resource_id: str, deployment: str) -> EffectivePolicy:
        resource = self._resources.get(resource_id) or ResourcePolicy(resource_id=resource_id, default=self._default)
        return resource.for_deployment(deployment)
