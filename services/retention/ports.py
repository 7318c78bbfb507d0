"""What the retention handlers need from the outside world."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class SealedContent:
    """AES-256-GCM output: ciphertext with its tag, the nonce, and which key sealed it."""

    key_id: str
    nonce: bytes
    ciphertext: bytes


class ContentCipher(Protocol):
    """Seals content so that it opens only with the same associated data."""

    def seal(self, plaintext: bytes, associated_data: bytes) -> SealedContent: ...

    def open(self, sealed: SealedContent, associated_data: bytes) -> bytes:
        """Raises UnreadableRecord if the ciphertext, nonce or associated data changed."""


class RecordStore(Protocol):
    """The region's record collection. Every query is scoped by resource ID."""

    async def put_record(self, record: dict[str, Any]) -> bool:
        """Insert once; returns False when a record of that request already exists."""

    async def get_record(self, resource_id: str, request_id: str) -> dict[str, Any] | None: ...
