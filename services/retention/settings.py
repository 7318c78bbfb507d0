"""Retention settings (env prefix RESIDENCY_RETENTION_). Lists and maps are JSON in the environment,
e.g. ``RESIDENCY_RETENTION_STORES='{"eu-west": {"uri": "mongodb://...", "database": "..."}}'``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.retention.window import MAX_RETENTION_DAYS
from services.runtime.settings import ServiceSettings
from services.runtime.topics import ONE_HOUR_MS


class RegionStore(BaseModel):
    """One region's abuse-monitoring store."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    uri: SecretStr = Field(description="MongoDB URI of the region's store.")
    database: str = Field(description="Database of the region's records, keys, flags, grants, audit log.")


class Workstation(BaseModel):
    """A registered review workstation: its client certificate's SHA-256 fingerprint (DER)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=64)
    certificate_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class ReviewerAccount(BaseModel):
    """A person who may review: roles, recorded location (ISO 3166 country), token hash."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=64)
    roles: list[Literal["reviewer", "approver"]] = Field(min_length=1)
    location: str = Field(pattern=r"^[A-Z]{2}$")
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class FlagRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    signal: str | None = Field(description="Signal kind: 'high', 'jailbreak', 'indirect_attack'; null: any.")
    scope: Literal["end_user", "resource"]
    threshold: int = Field(ge=1)
    window_s: int = Field(ge=1)


class RetentionSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RESIDENCY_RETENTION_", extra="ignore", frozen=True)

    mongo_uri: SecretStr = Field(SecretStr("mongodb://127.0.0.1:27017/"),
                                 description="This region's store when `stores` does not name the region.")
    database: str | None = Field(None, description="Database name then; default residency_retention_<region>.")
    stores: dict[str, RegionStore] = Field(default_factory=dict, description="Region to its store.")
    retention_days: int = Field(MAX_RETENTION_DAYS, ge=1, le=MAX_RETENTION_DAYS,
                                description="Longest time a record is kept; resources may set less.")
    platform_key: SecretStr = Field(description="Base64 of the 32-byte platform key (AES-256).")
    platform_key_id: str = Field("platform-1", description="Name of the platform key, stored with each data key.")
    stored_completions_key: SecretStr | None = Field(None, description=(
        "Base64 of the 32-byte purpose key wrapping stored completions' data keys; unset: derived from "
        "the platform key (HKDF-SHA256, labelled by purpose), still a key of its own."))
    previous_platform_keys: dict[str, SecretStr] = Field(
        default_factory=dict, description="Older platform keys (ID to base64) still unwrapping during a rotation.")
    customer_key_dir: str | None = Field(None, description="Directory of customer-managed keys (<id>.key).")
    customer_keys: dict[str, str] = Field(default_factory=dict,
                                          description="Resource ID to its customer-managed key ID.")
    batch_max_records: int = Field(500, ge=1, le=10_000, description="Most interactions per consumed batch.")
    batch_min_bytes: int = Field(64 * 1024, ge=1, le=16 * 1024 * 1024, description=(
        "The broker holds a fetch of interactions until this many bytes are there or the quiet fetch wait "
        "(quiet_fetch_max_wait_ms) passed: larger batches, so fewer store writes and offset commits per "
        "record, for records stored that much later (the caller never waits for the store)."))
    key_cache_s: float = Field(60.0, ge=0, description="How long an unwrapped data key is reused for sealing.")
    sweep_interval_s: float = Field(300.0, gt=0, description="Pause between expiry sweeps.")
    content_topic_retention_ms: int = Field(ONE_HOUR_MS, ge=1,
                                            description="Longest retention a content topic may have.")
    eea_regions: list[str] = Field(default_factory=lambda: ["eu-west", "eu-central", "eu-north", "eu-south"],
                                   description="Regions whose records only EEA reviewers may read.")
    flag_rules: list[FlagRule] | None = Field(None, description="Flagging rules; default flagging.DEFAULT_RULES.")

    review_host: str = Field("127.0.0.1", description="Listen address of the review API.")
    review_port: int | None = Field(None, ge=0, description="Port of the review API (mTLS); unset: no review API.")
    review_tls_cert: str | None = Field(None, description="Server certificate (PEM) of the review API.")
    review_tls_key: str | None = Field(None, description="Its private key (PEM).")
    review_client_ca: str | None = Field(None, description="CA (PEM) that issues workstation certificates.")
    workstations: list[Workstation] = Field(default_factory=list, description="Registered workstations.")
    reviewers: list[ReviewerAccount] = Field(default_factory=list, description="Reviewers and approvers.")
    grant_ttl_s: int = Field(900, ge=1, le=86400, description="How long an approved grant stays valid.")

    customer_host: str = Field("127.0.0.1", description="Listen address of the customer API.")
    customer_port: int | None = Field(None, ge=0, description="Port of the customer API; unset: none.")
    customer_tls_cert: str | None = Field(None, description="Server certificate (PEM) of the customer API.")
    customer_tls_key: str | None = Field(None, description="Its private key (PEM).")
    customer_tokens: dict[str, str] = Field(default_factory=dict,
                                            description="Resource ID to the SHA-256 (hex) of its customer token.")

    @model_validator(mode="after")
    def _review_needs_mtls(self) -> RetentionSettings:
        if self.review_port is not None and not (self.review_tls_cert and self.review_tls_key
                                                 and self.review_client_ca):
            raise ValueError("the review API needs review_tls_cert, review_tls_key and review_client_ca")
        if self.customer_keys and not self.customer_key_dir:
            raise ValueError("customer_keys need customer_key_dir")
        return self

    @property
    def store(self) -> RegionStore:
        """This region's store: from ``stores`` if it names the region, else mongo_uri/database."""
        return self.stores.get(self.region) or RegionStore(uri=self.mongo_uri, database=self.database_name)

    @property
    def database_name(self) -> str:
        return self.database or f"residency_retention_{self.region.replace('-', '_')}"

    @property
    def region_in_eea(self) -> bool:
        return self.region in self.eea_regions
