"""The purpose keys of fine-tuning, as settings carry them (base64 of 32 bytes)."""

from __future__ import annotations

import base64

from pydantic import SecretStr

from services.runtime.sealing import KEY_BYTES


def key_bytes(value: SecretStr) -> bytes:
    return base64.b64decode(value.get_secret_value())


def check_key(value: SecretStr) -> SecretStr:
    """For a settings validator; the error never quotes the value."""
    try:
        raw = base64.b64decode(value.get_secret_value(), validate=True)
    except ValueError:
        raw = b""
    if len(raw) != KEY_BYTES:
        raise ValueError("a fine-tuning key must be base64 of 32 bytes")
    return value
