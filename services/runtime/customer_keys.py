"""Customer-managed keys from a local directory: ``<dir>/<key id>.key`` holds base64 of 32 bytes.

Shared by every service that wraps data keys a second time for resources with a customer-managed
key (``CUSTOMER_KEY_DIR`` and ``CUSTOMER_KEYS`` in their settings): retention's keyring and the
fine-tuning vault (services/tuning_catalog/vault.py), which tuning and inference use.

The stand-in for a KMS or Vault transit in the same region (the KeyProvider port is what those
adapters implement: wrap/unwrap under a named key with associated data; AWS KMS takes it as
encryption context, Vault transit as ``associated_data``). The file is read on every call, so a
customer who revokes the key (the file is removed) makes their data unreadable at once.
"""

from __future__ import annotations

import asyncio
import base64
import re
from pathlib import Path

from services.runtime.sealing import KEY_BYTES, Unreadable, open_joined, seal_joined

_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


class LocalFileKeyProvider:
    def __init__(self, directory: str | Path) -> None:
        self._directory = Path(directory)

    def _read(self, key_id: str) -> bytes:
        if not _KEY_ID.match(key_id):
            raise ValueError(f"invalid customer key ID {key_id!r}")
        path = self._directory / f"{key_id}.key"
        try:
            key = base64.b64decode(path.read_text().strip(), validate=True)
        except FileNotFoundError:
            raise Unreadable(f"customer key {key_id!r} is not available") from None
        if len(key) != KEY_BYTES:
            raise ValueError(f"customer key {key_id!r} must be 32 bytes (AES-256)")
        return key

    async def wrap(self, key_id: str, plaintext: bytes, associated_data: bytes) -> bytes:
        key = await asyncio.to_thread(self._read, key_id)
        return seal_joined(key, plaintext, associated_data)

    async def unwrap(self, key_id: str, wrapped: bytes, associated_data: bytes) -> bytes:
        key = await asyncio.to_thread(self._read, key_id)
        return open_joined(key, wrapped, associated_data)
