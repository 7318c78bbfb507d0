"""Gateway settings (env prefix RESIDENCY_GATEWAY_)."""

from __future__ import annotations

import os
import secrets
import socket

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.connections.settings import DataConnectionSettings
from services.gateway.resources import Limits
from services.gateway.shedding import SheddingSettings
from services.gateway.tuning_edge import TuningEdgeSettings
from services.runtime.settings import ServiceSettings

SUPPORTED_API_VERSIONS = (
    "2023-05-15", "2023-06-01-preview", "2024-02-01", "2024-06-01", "2024-10-21",
    # mongo_db data sources arrived with 2024-08-01-preview
    "2024-08-01-preview", "2024-09-01-preview", "2024-10-01-preview", "2024-12-01-preview",
    "2025-01-01-preview", "2025-02-01-preview", "2025-03-01-preview", "2025-04-01-preview",
)


MIN_ADMIN_KEY_LENGTH = 32


def _replica_id() -> str:
    return f"{socket.gethostname()[:24]}-{os.getpid()}-{secrets.token_hex(3)}"


class GatewaySettings(ServiceSettings, DataConnectionSettings, SheddingSettings, TuningEdgeSettings):
    model_config = SettingsConfigDict(env_prefix="RESIDENCY_GATEWAY_", extra="ignore", frozen=True)

    host: str = Field("127.0.0.1", description="HTTP listen address.")
    port: int = Field(8080, description="HTTP listen port.")
    replica_id: str = Field(default_factory=_replica_id, description="This replica's ID on the replies topic.")
    mongo_uri: SecretStr = Field(SecretStr("mongodb://127.0.0.1:27017/"), description="Control-plane store.")
    store_timeout_ms: int = Field(5000, ge=100, description="How long to wait for the control-plane store.")
    control_database: str = Field("residency_control", description="Database of resources and keys.")
    admin_key: SecretStr = Field(description=(
        f"Credential of the admin (control-plane) API, at least {MIN_ADMIN_KEY_LENGTH} characters."))
    admin_host: str = Field("127.0.0.1", description=(
        "Listen address of the admin API (keep it off the public network)."))
    admin_port: int = Field(8090, ge=1, le=65535, description="Listen port of the admin API; never the public port.")
    admin_max_body_bytes: int = Field(64 << 10, ge=1024, description="Largest accepted admin request body.")
    key_cache_s: float = Field(5.0, ge=0, description=(
        "How long a replica keeps a matched key's resource: the longest a key revoked through another "
        "replica still passes here (0: look up every request)."))
    reply_timeout_s: float = Field(60.0, gt=0, description="How long a caller waits for its answer.")
    max_body_bytes: int = Field(1 << 20, ge=1024, description="Largest accepted request body.")
    max_messages: int = Field(256, ge=1, description="Most messages in one chat request.")
    default_limits: Limits = Field(default_factory=lambda: Limits(rpm=600, tpm=1_000_000), description=(
        "Limits of a resource created without a `limits` field (JSON); `{}` there means none."))
    api_versions: list[str] = Field(default_factory=lambda: list(SUPPORTED_API_VERSIONS),
                                    description="Accepted Azure api-version values.")

    @model_validator(mode="after")
    def _admin_is_guarded(self) -> GatewaySettings:
        # Checked on the model, not the field: a field error would quote the raw key as its input.
        key = self.admin_key.get_secret_value()
        if len(key) < MIN_ADMIN_KEY_LENGTH or key != key.strip():
            raise ValueError(f"RESIDENCY_GATEWAY_ADMIN_KEY must be at least {MIN_ADMIN_KEY_LENGTH} characters, "
                             "without surrounding whitespace; generate one with `openssl rand -hex 32`")
        if self.admin_port == self.port:
            raise ValueError("RESIDENCY_GATEWAY_ADMIN_PORT must differ from RESIDENCY_GATEWAY_PORT")
        return self
