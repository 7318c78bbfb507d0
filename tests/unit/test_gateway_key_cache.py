"""The per-replica key cache: what it saves, and the bound it states (README, "Caches and their bounds")."""

from __future__ import annotations

from services.gateway.key_cache import CachedResourceDirectory
from tests.unit.gateway_fakes import InMemoryResourceDirectory, sha256_hex


class CountingDirectory(InMemoryResourceDirectory):
    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    async def find_by_key_hash(self, key_hash):
        self.lookups += 1
        return await super().find_by_key_hash(key_hash)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_matched_key_is_looked_up_once_within_the_bound_and_again_after_it():
    store, clock = CountingDirectory(), Clock()
    key = store.add("contoso")
    cache = CachedResourceDirectory(store, ttl_s=5.0, clock=clock)

    for _ in range(3):
        assert (await cache.find_by_key_hash(sha256_hex(key))).resource_id == "contoso"
    assert store.lookups == 1
    clock.now += 5.01
    await cache.find_by_key_hash(sha256_hex(key))
    assert store.lookups == 2


async def test_a_key_revoked_elsewhere_passes_at_most_the_bound():
    store, clock = CountingDirectory(), Clock()
    key = store.add("contoso")
    cache = CachedResourceDirectory(store, ttl_s=5.0, clock=clock)
    await cache.find_by_key_hash(sha256_hex(key))
    await store.delete("contoso")  # through another replica: this cache is not told

    clock.now += 4.9
    assert await cache.find_by_key_hash(sha256_hex(key)) is not None
    clock.now += 0.2
    assert await cache.find_by_key_hash(sha256_hex(key)) is None


async def test_changes_through_this_replica_take_effect_at_once():
    store, clock = CountingDirectory(), Clock()
    key = store.add("contoso")
    cache = CachedResourceDirectory(store, ttl_s=5.0, clock=clock)
    await cache.find_by_key_hash(sha256_hex(key))

    await cache.set_key_hash("contoso", "key1", sha256_hex("a new key"))
    assert await cache.find_by_key_hash(sha256_hex(key)) is None


async def test_unknown_keys_are_never_cached_and_the_cache_is_bounded():
    store, clock = CountingDirectory(), Clock()
    cache = CachedResourceDirectory(store, ttl_s=5.0, max_entries=2, clock=clock)
    assert await cache.find_by_key_hash(sha256_hex("nobody")) is None
    key = store.add("late")  # made just after a failed attempt: works at once
    assert (await cache.find_by_key_hash(sha256_hex(key))).resource_id == "late"

    keys = [store.add(f"r{i}") for i in range(3)]
    for k in keys:
        await cache.find_by_key_hash(sha256_hex(k))
    assert len(cache._by_hash) == 2
