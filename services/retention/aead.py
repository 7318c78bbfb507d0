"""AES-256-GCM with associated data, the one cipher of the retention service.

A nonce is 96 random bits per encryption; a data key seals at most one resource's records of one
day, far below the 2^32 messages per key that random nonces allow.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.retention.errors import UnreadableRecord

KEY_BYTES = 32
NONCE_BYTES = 12


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def seal(key: bytes, plaintext: bytes, associated_data: bytes) -> tuple[bytes, bytes]:
    """Returns (nonce, ciphertext with tag)."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce, AESGCM(key).encrypt(nonce, plaintext, associated_data)


def open_sealed(key: bytes, nonce: bytes, ciphertext: bytes, associated_data: bytes) -> bytes:
    """Raises UnreadableRecord when key, nonce, ciphertext or associated data do not match."""
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, associated_data)
    except (InvalidTag, ValueError) as error:
        raise UnreadableRecord("authentication failed") from error


def seal_joined(key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """``nonce || ciphertext``: the wrapped-key format of the local key providers."""
    nonce, ciphertext = seal(key, plaintext, associated_data)
    return nonce + ciphertext


def open_joined(key: bytes, joined: bytes, associated_data: bytes) -> bytes:
    return open_sealed(key, joined[:NONCE_BYTES], joined[NONCE_BYTES:], associated_data)
