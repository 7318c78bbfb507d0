"""The platform key(s) as a key provider: wraps every data key, in memory, from settings.

Several keys may be configured during a rotation: new data keys are wrapped under the current
one, data keys wrapped under an older one still unwrap until their day expires.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.retention.aead import KEY_BYTES, open_joined, seal_joined
from services.retention.errors import UnreadableRecord


class PlatformKeyProvider:
    def __init__(self, keys: Mapping[str, bytes]) -> None:
        for key_id, key in keys.items():
            if len(key) != KEY_BYTES:
                raise ValueError(f"platform key {key_id!r} must be 32 bytes (AES-256)")
        self._keys = dict(keys)

    def _key(self, key_id: str) -> bytes:
        try:
            return self._keys[key_id]
        except KeyError:
            raise UnreadableRecord(f"platform key {key_id!r} is not configured") from None

    async def wrap(self, key_id: str, plaintext: bytes, associated_data: bytes) -> bytes:
        return seal_joined(self._key(key_id), plaintext, associated_data)

    async def unwrap(self, key_id: str, wrapped: bytes, associated_data: bytes) -> bytes:
        return open_joined(self._key(key_id), wrapped, associated_data)
