"""Gateway settings (env prefix RESIDENCY_GATEWAY_)."""

from __future__ import annotations

import os
import secrets
import socket

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.gateway.resources import Limits
from services.runtime.settings import ServiceSettings

SUPPORTED_API_VERSIONS = (
    "2023-05-15", "2023-06-01-preview", "2024-02-01", "2024-06-01", "2024-10-21",
    "2024-12-01-preview", "2025-01-01-preview", "2025-03-01-preview", "2025-04-01-preview",
)


def _replica_id() -> str:
    return f"{socket.gethostname()[:24]}-{os.getpid()}-{secrets.token_hex(3)}"


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RESIDENCY_GATEWAY_", extra="ignore", frozen=True)

    host: str = Field("127.0.0.1", description="HTTP listen address.")
    port: int = Field(8080, description="HTTP listen port.")
    replica_id: str = Field(default_factory=_replica_id, description="This replica's ID on the replies topic.")
    mongo_uri: SecretStr = Field(SecretStr("mongodb://127.0.0.1:27017/"), description="Control-plane store.")
    store_timeout_ms: int = Field(5000, ge=100, description="How long to wait for the control-plane store.")
    control_database: str = Field("residency_control", description="Database of resources and keys.")
    admin_key: SecretStr = Field(description="Credential of the admin (control-plane) API.")
    reply_timeout_s: float = Field(60.0, gt=0, description="How long a caller waits for its answer.")
    max_body_bytes: int = Field(1 << 20, ge=1024, description="Largest accepted request body.")
    max_messages: int = Field(256, ge=1, description="Most messages in one chat request.")
    default_limits: Limits = Field(default_factory=lambda: Limits(rpm=600, tpm=1_000_000), description=(
        "Limits of a resource created without a `limits` field (JSON); `{}` there means none."))
    api_versions: list[str] = Field(default_factory=lambda: list(SUPPORTED_API_VERSIONS),
                                    description="Accepted Azure api-version values.")
