"""AES-256-GCM envelope encryption, the one cipher of every service that keeps secrets at rest.

Retention seals interaction records under per-day data keys (services/retention/keyring.py);
data connections seal their credentials under one data key per connection (``SecretSealer``).
Both use the same primitives and the same key providers:

- a *data key* is 32 random bytes that seals one thing (a secret, a day of records);
- a *key provider* wraps data keys under a named key it holds (a platform key from settings, a
  customer-managed key, a KMS or Vault transit key); wrapped keys are stored, wrapping keys never;
- associated data binds every ciphertext and every wrapped key to what it belongs to, so a copy
  moved to another resource, request or connection fails to open.

Exceptions::

    Exception
    └── Unreadable   a ciphertext or wrapped key failed authentication, or its wrapping key is unknown
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12


class Unreadable(Exception):
    """Sealed bytes that do not open: altered, moved, or their key is gone or unknown."""


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def seal(key: bytes, plaintext: bytes, associated_data: bytes) -> tuple[bytes, bytes]:
    """Returns (nonce, ciphertext with tag); a nonce is 96 random bits per encryption."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce, AESGCM(key).encrypt(nonce, plaintext, associated_data)


def open_sealed(key: bytes, nonce: bytes, ciphertext: bytes, associated_data: bytes) -> bytes:
    """Raises Unreadable when key, nonce, ciphertext or associated data do not match."""
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, associated_data)
    except (InvalidTag, ValueError) as error:
        raise Unreadable("authentication failed") from error


def seal_joined(key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """``nonce || ciphertext``: the wrapped-key format of the key providers."""
    nonce, ciphertext = seal(key, plaintext, associated_data)
    return nonce + ciphertext


def open_joined(key: bytes, joined: bytes, associated_data: bytes) -> bytes:
    return open_sealed(key, joined[:NONCE_BYTES], joined[NONCE_BYTES:], associated_data)


class KeyProvider(Protocol):
    """Wraps and unwraps key material under a named key it holds. The wrapping key never leaves
    the provider; associated data binds each wrapped key to what it seals."""

    async def wrap(self, key_id: str, plaintext: bytes, associated_data: bytes) -> bytes: ...

    async def unwrap(self, key_id: str, wrapped: bytes, associated_data: bytes) -> bytes:
        """Raises Unreadable when the wrapped key or its associated data was altered."""
        ...


class StaticKeyProvider:
    """Named 32-byte keys held in memory, from settings (a platform key and its predecessors).

    Several keys may be configured during a rotation: new data keys are wrapped under the current
    one, data keys wrapped under an older one still unwrap.
    """

    def __init__(self, keys: Mapping[str, bytes], *, purpose: str = "platform") -> None:
        for key_id, key in keys.items():
            if len(key) != KEY_BYTES:
                raise ValueError(f"{purpose} key {key_id!r} must be 32 bytes (AES-256)")
        self._keys = dict(keys)
        self._purpose = purpose

    def _key(self, key_id: str) -> bytes:
        try:
            return self._keys[key_id]
        except KeyError:
            raise Unreadable(f"{self._purpose} key {key_id!r} is not configured") from None

    async def wrap(self, key_id: str, plaintext: bytes, associated_data: bytes) -> bytes:
        return seal_joined(self._key(key_id), plaintext, associated_data)

    async def unwrap(self, key_id: str, wrapped: bytes, associated_data: bytes) -> bytes:
        return open_joined(self._key(key_id), wrapped, associated_data)


@dataclass(frozen=True)
class SealedSecret:
    """A secret sealed under a data key of its own; the data key is stored wrapped beside it."""

    wrapping_key_id: str
    wrapped_key: bytes
    nonce: bytes
    ciphertext: bytes


class SecretSealer:
    """Seals small secrets (credentials) one data key each, wrapped by a purpose key of the region.

    ``associated_data`` names the owner (e.g. resource and connection): a sealed secret copied
    onto another owner's document does not open.
    """

    def __init__(self, provider: KeyProvider, key_id: str) -> None:
        self._provider = provider
        self._key_id = key_id

    async def seal(self, plaintext: bytes, associated_data: bytes) -> SealedSecret:
        data_key = new_key()
        wrapped = await self._provider.wrap(self._key_id, data_key, b"residency/secret-key/v1/" + associated_data)
        nonce, ciphertext = seal(data_key, plaintext, associated_data)
        return SealedSecret(self._key_id, wrapped, nonce, ciphertext)

    async def open(self, sealed: SealedSecret, associated_data: bytes) -> bytes:
        data_key = await self._provider.unwrap(sealed.wrapping_key_id, sealed.wrapped_key,
                                               b"residency/secret-key/v1/" + associated_data)
        return open_sealed(data_key, sealed.nonce, sealed.ciphertext, associated_data)
