"""Sealed content of fine-tuning: uploaded files and trained adapters.

Each object (a file, an adapter) has a data key of its own (32 random bytes, AES-256-GCM), stored
only wrapped by a purpose key of the region through ``services/runtime/sealing.py``'s key
providers: files by the files key (held by the tuning service alone), adapters by the adapters key
(tuning, which seals them, and inference, which serves them). Neither is retention's platform key
or the connections key. Where the resource has a customer-managed key (``customer_keys``:
resource -> key ID, retention's ``CUSTOMER_KEYS`` wiring), the wrapped data key is wrapped again
by it (double encryption) and the key document names it: opening then needs both keys, and a
customer who revokes theirs makes every file and adapter of the resource unreadable at once.
Chunks are sealed with associated data naming resource, object and position, so a chunk moved to
another file, resource or position does not open. Destroying the key (crypto-shredding) comes
before deleting the chunks: once it returns, no copy of the chunks opens again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime

from services.runtime import sealing
from services.tuning_catalog.errors import ContentGone
from services.tuning_catalog.ports import SealedChunk, SealedObjects, StoredKey


def key_associated_data(resource_id: str, object_id: str) -> bytes:
    return f"residency/tuning-key/v1/{resource_id}/{object_id}".encode()


def chunk_associated_data(resource_id: str, object_id: str, sequence: int) -> bytes:
    return f"residency/tuning/v1/{resource_id}/{object_id}/{sequence}".encode()


class TuningVault:
    def __init__(self, store: SealedObjects, provider: sealing.KeyProvider, key_id: str,
                 clock: Callable[[], datetime], *, customer: sealing.KeyProvider | None = None,
                 customer_keys: Mapping[str, str] | None = None) -> None:
        """``customer`` opens keys wrapped by customer-managed keys; ``customer_keys`` names the
        resources whose *new* objects get that second layer (a reader such as inference needs only
        the provider: each key document names its customer key)."""
        self._store = store
        self._provider = provider
        self._key_id = key_id
        self._clock = clock
        self._customer = customer
        self._customer_keys = dict(customer_keys or {})
        if self._customer_keys and customer is None:
            raise ValueError("customer-managed keys are configured but no customer key provider")

    async def ensure_key(self, resource_id: str, object_id: str) -> bytes:
        """The object's data key, made on first use (a chunk delivered again finds the same key)."""
        stored = await self._store.get_key(resource_id, object_id)
        if stored is None:
            material = sealing.new_key()
            if await self._store.insert_key(resource_id, object_id, await self._wrap(resource_id, object_id, material),
                                            self._clock()):
                return material
            stored = await self._store.get_key(resource_id, object_id)  # another replica made it first
        return await self._unwrap(resource_id, object_id, stored)

    async def put(self, resource_id: str, object_id: str, sequence: int, plaintext: bytes) -> None:
        key = await self.ensure_key(resource_id, object_id)
        nonce, ciphertext = sealing.seal(key, plaintext, chunk_associated_data(resource_id, object_id, sequence))
        await self._store.put_chunk(resource_id, object_id, SealedChunk(sequence, nonce, ciphertext))

    async def read(self, resource_id: str, object_id: str) -> AsyncIterator[bytes]:
        """The object's plaintext, chunk by chunk; raises ContentGone once its key is destroyed."""
        key = await self._unwrap(resource_id, object_id, await self._store.get_key(resource_id, object_id))
        async for chunk in self._store.chunks(resource_id, object_id):
            try:
                yield sealing.open_sealed(key, chunk.nonce, chunk.ciphertext,
                                          chunk_associated_data(resource_id, object_id, chunk.sequence))
            except sealing.Unreadable as error:
                raise ContentGone(f"chunk {chunk.sequence} of {object_id} does not open") from error

    async def read_all(self, resource_id: str, object_id: str) -> bytes:
        return b"".join([piece async for piece in self.read(resource_id, object_id)])

    async def destroy(self, resource_id: str, object_id: str) -> None:
        """Key first, then the chunks: a crash between the two leaves only unreadable ciphertext."""
        await self._store.destroy_key(resource_id, object_id, self._clock())
        await self._store.delete_chunks(resource_id, object_id)

    async def _wrap(self, resource_id: str, object_id: str, material: bytes) -> StoredKey:
        associated_data = key_associated_data(resource_id, object_id)
        wrapped = await self._provider.wrap(self._key_id, material, associated_data)
        customer_key_id = self._customer_keys.get(resource_id)
        if customer_key_id is not None and self._customer is not None:
            try:
                wrapped = await self._customer.wrap(customer_key_id, wrapped, associated_data)
            except sealing.Unreadable as error:  # revoked or unavailable: nothing is sealed without it
                raise ContentGone(f"the customer-managed key of {resource_id} is not available") from error
        return StoredKey(self._key_id, wrapped, customer_key_id)

    async def _unwrap(self, resource_id: str, object_id: str, stored: StoredKey | None) -> bytes:
        if stored is None or stored.wrapped is None:
            raise ContentGone(f"the data key of {object_id} is destroyed or was never made")
        associated_data = key_associated_data(resource_id, object_id)
        wrapped = stored.wrapped
        try:
            if stored.customer_key_id is not None:
                if self._customer is None:
                    raise sealing.Unreadable("no customer key provider")
                wrapped = await self._customer.unwrap(stored.customer_key_id, wrapped, associated_data)
            return await self._provider.unwrap(stored.wrapping_key_id, wrapped, associated_data)
        except sealing.Unreadable as error:
            raise ContentGone(f"the data key of {object_id} does not open") from error
