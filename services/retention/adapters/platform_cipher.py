"""AES-256-GCM under the platform key (the per-resource envelope keys build on this)."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.retention.errors import UnreadableRecord
from services.retention.ports import SealedContent


class PlatformKeyCipher:
    def __init__(self, key: bytes, key_id: str) -> None:
        if len(key) != 32:
            raise ValueError("the platform key must be 32 bytes (AES-256)")
        self._aead = AESGCM(key)
        self._key_id = key_id

    def seal(self, plaintext: bytes, associated_data: bytes) -> SealedContent:
        nonce = os.urandom(12)
        return SealedContent(self._key_id, nonce, self._aead.encrypt(nonce, plaintext, associated_data))

    def open(self, sealed: SealedContent, associated_data: bytes) -> bytes:
        if sealed.key_id != self._key_id:
            raise UnreadableRecord(f"sealed under unknown key {sealed.key_id!r}")
        try:
            return self._aead.decrypt(sealed.nonce, sealed.ciphertext, associated_data)
        except InvalidTag as error:
            raise UnreadableRecord("authentication failed") from error
