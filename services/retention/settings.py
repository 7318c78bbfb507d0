"""Retention settings (env prefix RESIDENCY_RETENTION_)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import ServiceSettings


class RetentionSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RESIDENCY_RETENTION_", extra="ignore", frozen=True)

    mongo_uri: SecretStr = Field(SecretStr("mongodb://127.0.0.1:27017/"),
                                 description="This region's store (MongoDB or FerretDB).")
    database: str | None = Field(None, description="Database name; default residency_retention_<region>.")
    retention_days: int = Field(30, ge=1, le=30, description="Longest time a record is kept.")
    platform_key: SecretStr = Field(description="Base64 of the 32-byte platform key (AES-256).")
    platform_key_id: str = Field("platform-1", description="Name of the platform key, stored with each record.")

    @property
    def database_name(self) -> str:
        return self.database or f"residency_retention_{self.region.replace('-', '_')}"
