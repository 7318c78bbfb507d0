"""Resources by key hash, kept for a few seconds per replica so that a request costs no store
round trip to authenticate.

The bound (README, "Caches and their bounds"): a key revoked or regenerated, a resource deleted or
changed through another replica passes on this one for at most ``ttl_s`` (default 5 s). Changes
made through this replica's admin API take effect here at once. Only keys that matched are kept:
an unknown key is looked up every time, so a key made a moment ago works at once, and at most
``max_entries`` resources are held (the oldest entry goes first).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from services.gateway.ports import ResourceDirectory
from services.gateway.resources import KeySlot, Resource


class CachedResourceDirectory:
    """A ResourceDirectory whose ``find_by_key_hash`` answers from memory for ``ttl_s``."""

    def __init__(self, inner: ResourceDirectory, *, ttl_s: float = 5.0, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._inner = inner
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._by_hash: OrderedDict[str, tuple[float, Resource]] = OrderedDict()

    def __getattr__(self, name: str) -> object:  # create_indexes, close: the store's own
        return getattr(self._inner, name)

    async def find_by_key_hash(self, key_hash: str) -> Resource | None:
        now = self._clock()
        held = self._by_hash.get(key_hash)
        if held is not None and held[0] > now:
            return held[1]
        resource = await self._inner.find_by_key_hash(key_hash)
        if resource is None:
            self._by_hash.pop(key_hash, None)
            return None
        self._by_hash[key_hash] = (now + self._ttl_s, resource)
        self._by_hash.move_to_end(key_hash)
        while len(self._by_hash) > self._max_entries:
            self._by_hash.popitem(last=False)
        return resource

    def forget(self, resource_id: str) -> None:
        for key_hash in [h for h, (_, r) in self._by_hash.items() if r.resource_id == resource_id]:
            del self._by_hash[key_hash]

    async def get(self, resource_id: str) -> Resource | None:
        return await self._inner.get(resource_id)

    async def create(self, resource: Resource, key_hashes: dict[KeySlot, str]) -> bool:
        return await self._inner.create(resource, key_hashes)

    async def replace(self, resource: Resource) -> bool:
        self.forget(resource.resource_id)
        return await self._inner.replace(resource)

    async def set_key_hash(self, resource_id: str, slot: KeySlot, key_hash: str) -> bool:
        self.forget(resource_id)
        return await self._inner.set_key_hash(resource_id, slot, key_hash)

    async def delete(self, resource_id: str) -> bool:
        self.forget(resource_id)
        return await self._inner.delete(resource_id)
