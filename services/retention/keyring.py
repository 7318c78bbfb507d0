"""Envelope encryption: per-resource, per-day data keys, stored wrapped, destroyed on expiry.

A data key is 32 random bytes. The key store keeps it wrapped by the platform key and, when the
resource has a customer-managed key, wrapped again by that key (double encryption). Unwrapped
keys are cached briefly for sealing only; opening always reads the key store, so a destroyed
key (crypto-shredding) can never open anything again.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.retention.errors import KeyWindowClosed, UnreadableRecord
from services.retention.model import SealedContent, StoredDataKey
from services.retention.ports import Clock, KeyProvider, KeyStore
from services.retention.window import day_name, day_start
from services.runtime import sealing


@dataclass(frozen=True)
class DataKey:
    key_id: str
    material: bytes
    destroy_at: datetime


def key_associated_data(key_id: str) -> bytes:
    """Binds a wrapped data key to its ID (which names its resource and day)."""
    return f"residency/key/v1/{key_id}".encode()


class Keyring:
    def __init__(self, store: KeyStore, platform: KeyProvider, platform_key_id: str, *, clock: Clock,
                 customer: KeyProvider | None = None, customer_keys: Mapping[str, str] | None = None,
                 cache_ttl_s: float = 60.0) -> None:
        self._store = store
        self._providers = {"platform": platform, "customer": customer}
        self._platform_key_id = platform_key_id
        self._customer_keys = dict(customer_keys or {})
        if self._customer_keys and customer is None:
            raise ValueError("customer-managed keys are configured but no customer key provider")
        self._clock = clock
        self._cache_ttl_s = cache_ttl_s
        self._cache: dict[tuple[str, str], tuple[DataKey, float]] = {}

    async def seal(self, resource_id: str, completed_at: datetime, retention_days: int,
                   plaintext: bytes, associated_data: bytes) -> tuple[SealedContent, datetime]:
        """Seal under the resource's key of ``completed_at``'s day; returns it and the key's end."""
        key = await self.key_for_day(resource_id, completed_at, retention_days)
        nonce, ciphertext = sealing.seal(key.material, plaintext, associated_data)
        return SealedContent(key.key_id, nonce, ciphertext), key.destroy_at

    async def open(self, resource_id: str, sealed: SealedContent, associated_data: bytes) -> bytes:
        """Raises UnreadableRecord if the key is destroyed or anything was moved or altered."""
        stored = await self._store.get_key(sealed.key_id)
        if stored is None or stored.destroyed:
            raise UnreadableRecord("the data key was destroyed")
        if stored.resource_id != resource_id:
            raise UnreadableRecord("the data key belongs to another resource")
        material = await self._unwrap(stored)
        try:
            return sealing.open_sealed(material, sealed.nonce, sealed.ciphertext, associated_data)
        except sealing.Unreadable as error:
            raise UnreadableRecord(str(error)) from error

    async def key_for_day(self, resource_id: str, moment: datetime, retention_days: int) -> DataKey:
        start = day_start(moment)
        day = day_name(start)
        now = self._clock()
        cached = self._cache.get((resource_id, day))
        if cached and time.monotonic() - cached[1] < self._cache_ttl_s and cached[0].destroy_at > now:
            return cached[0]
        stored = await self._store.active_key(resource_id, day)
        if stored is None:
            stored = await self._create(resource_id, start, retention_days, now)
        if stored.destroy_at <= now:
            raise KeyWindowClosed(f"the {day} window of resource {resource_id} has closed")
        key = DataKey(stored.key_id, await self._unwrap(stored), stored.destroy_at)
        self._cache[(resource_id, day)] = (key, time.monotonic())
        return key

    async def destroy_due(self) -> int:
        self._cache.clear()
        return await self._store.destroy_due(self._clock())

    async def destroy_resource(self, resource_id: str, because: str,
                               day_start_before: datetime | None = None) -> int:
        for cache_key in [k for k in self._cache if k[0] == resource_id]:
            del self._cache[cache_key]
        return await self._store.destroy_resource(resource_id, self._clock(), because, day_start_before)

    async def _create(self, resource_id: str, start: datetime, retention_days: int, now: datetime) -> StoredDataKey:
        destroy_at = start + timedelta(days=retention_days)
        if destroy_at <= now:
            raise KeyWindowClosed(f"the {day_name(start)} window of resource {resource_id} has closed")
        key_id = f"{resource_id}/{day_name(start)}/{secrets.token_hex(4)}"
        layers, wrapped = await self._wrap(resource_id, key_id, sealing.new_key())
        candidate = StoredDataKey(key_id=key_id, resource_id=resource_id, day=day_name(start), day_start=start,
                                  destroy_at=destroy_at, layers=layers, wrapped=wrapped, created_at=now)
        if await self._store.insert_key(candidate):
            return candidate
        # Another replica created the day's key first: use theirs, so a day has one key.
        winner = await self._store.active_key(resource_id, day_name(start))
        if winner is None:
            raise UnreadableRecord("the day's data key vanished while it was being created")
        return winner

    async def _wrap(self, resource_id: str, key_id: str, material: bytes) -> tuple[tuple[str, ...], bytes]:
        layers = [f"platform:{self._platform_key_id}"]
        if resource_id in self._customer_keys:
            layers.append(f"customer:{self._customer_keys[resource_id]}")
        wrapped = material
        for layer in layers:
            provider, wrapping_key_id = self._provider(layer)
            try:
                wrapped = await provider.wrap(wrapping_key_id, wrapped, key_associated_data(key_id))
            except sealing.Unreadable as error:
                raise UnreadableRecord(str(error)) from error
        return tuple(layers), wrapped

    async def _unwrap(self, stored: StoredDataKey) -> bytes:
        material = stored.wrapped
        assert material is not None
        for layer in reversed(stored.layers):
            provider, wrapping_key_id = self._provider(layer)
            try:
                material = await provider.unwrap(wrapping_key_id, material, key_associated_data(stored.key_id))
            except sealing.Unreadable as error:
                raise UnreadableRecord(str(error)) from error
        return material

    def _provider(self, layer: str) -> tuple[KeyProvider, str]:
        kind, _, wrapping_key_id = layer.partition(":")
        provider = self._providers.get(kind)
        if provider is None:
            raise UnreadableRecord(f"no key provider for {kind!r} keys")
        return provider, wrapping_key_id
