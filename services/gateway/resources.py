"""The tenant: a resource with its region, deployments, content-logging switch and two keys."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import Region, ResourceId

KeySlot = Literal["key1", "key2"]
KEY_SLOTS: tuple[KeySlot, ...] = ("key1", "key2")


class Limits(BaseModel):
    """Requests and tokens per minute; None is unlimited. Held across all gateway replicas."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rpm: int | None = Field(None, ge=1, description="Requests per minute.")
    tpm: int | None = Field(None, ge=1, description="Tokens per minute (prompt estimate + max_tokens, then actual).")


class Deployment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    model: str = Field(min_length=1, max_length=128)
    adapter: str | None = Field(None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                                description="Fine-tuned LoRA adapter owned by this resource, served on top of model.")
    limits: Limits = Field(default_factory=Limits)
    context_length: int = Field(2048, ge=1, le=1 << 24, description=(
        "Tokens the model's context holds (prompt + completion): the token estimate charges the rest "
        "of it per choice when a request sets no max_tokens."))


class Resource(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    resource_id: ResourceId
    region: Region
    content_logging: bool = True
    deployments: list[Deployment] = Field(default_factory=list)
    limits: Limits = Field(default_factory=Limits)
    created_at: datetime

    def deployment(self, name: str) -> Deployment | None:
        return next((d for d in self.deployments if d.name == name), None)

    @property
    def capabilities(self) -> list[dict[str, str]]:
        """As Azure shows them; ContentLogging=false for modified abuse monitoring."""
        return [{"name": "ContentLogging", "value": "true" if self.content_logging else "false"}]


def new_key() -> str:
    return secrets.token_hex(16)


def hash_key(key: str) -> str:
    """Keys are stored only as SHA-256 hashes; a key is 128 random bits, so no salt or KDF is needed."""
    return hashlib.sha256(key.encode()).hexdigest()
