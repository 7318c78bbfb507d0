"""Tuning settings (env prefix RESIDENCY_TUNING_)."""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from services.inference.model_files import CHAT_MODEL, chat_model_dir
from services.runtime.customer_keys import LocalFileKeyProvider
from services.runtime.sealing import StaticKeyProvider
from services.runtime.settings import ServiceSettings
from services.tuning_catalog.keys import check_key, key_bytes


def _worker_id() -> str:
    return f"tuning-{socket.gethostname()[:20]}-{os.getpid()}-{secrets.token_hex(3)}"


class TuningSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RESIDENCY_TUNING_", extra="ignore", frozen=True)

    mongo_uri: SecretStr = Field(SecretStr("mongodb://127.0.0.1:27017/"), description="The region's store.")
    database: str = Field("residency_tuning", description="Database of files, jobs, keys and adapters.")
    store_timeout_ms: int = Field(5000, ge=100, description="How long to wait for the store.")
    files_key: SecretStr = Field(description=(
        "Base64 of the region's 32-byte files key, which wraps every uploaded file's data key (tuning only)."))
    files_key_id: str = Field("files-1", min_length=1, max_length=64, description="Name of the files key.")
    adapters_key: SecretStr = Field(description=(
        "Base64 of the region's 32-byte adapters key, which wraps every trained adapter's data key "
        "(inference holds it too, to serve adapters; it opens no training file)."))
    adapters_key_id: str = Field("adapters-1", min_length=1, max_length=64, description="Name of the adapters key.")
    base_models: dict[str, str] = Field(
        default_factory=lambda: {CHAT_MODEL: str(chat_model_dir())},
        description="Tunable base model name -> HF folder (the packaged SmolLM2 by default).")
    worker_id: str = Field(default_factory=_worker_id, max_length=64, description="This worker's ID on claimed jobs.")
    stale_after_s: float = Field(120.0, gt=0, description=(
        "A running job whose heartbeat is older than this when its message comes again was interrupted."))
    max_job_s: int = Field(3600, ge=60, description="Longest training; bounds the jobs consumer's poll interval.")
    min_examples: int = Field(10, ge=1, description="Fewest examples a training file must have.")
    max_line_bytes: int = Field(256 * 1024, ge=1024, description="Longest line (example) of a training file.")
    max_examples: int = Field(50_000, ge=1, description="Most examples of a training file.")
    max_train_tokens: int = Field(512, ge=32, description="Examples are cut to this many tokens.")
    torch_threads: int = Field(1, ge=1, description="CPU threads of training.")
    scratch_dir: Path = Field(Path("/dev/shm"), description=(
        "Private in-memory folder where a trained adapter is written before it is sealed (tmpfs)."))
    customer_key_dir: str | None = Field(None, description="Directory of customer-managed keys (<id>.key).")
    customer_keys: dict[str, str] = Field(default_factory=dict, description=(
        "Resource ID to its customer-managed key ID: that resource's files and adapters are wrapped by it too."))
    orphan_after_s: float = Field(3600.0, ge=60, description=(
        "Sealed chunks whose file or model has no record this long after their key was made are shredded "
        "(an upload cut off by a gateway crash, an adapter whose job never recorded it)."))
    orphan_sweep_interval_s: float = Field(600.0, gt=0, description="Pause between orphan sweeps.")

    @field_validator("files_key", "adapters_key")
    @classmethod
    def _key_is_32_bytes(cls, value: SecretStr) -> SecretStr:
        return check_key(value)

    @model_validator(mode="after")
    def _customer_keys_need_their_directory(self) -> TuningSettings:
        if self.customer_keys and not self.customer_key_dir:
            raise ValueError("customer_keys need customer_key_dir")
        return self

    def customer_provider(self) -> LocalFileKeyProvider | None:
        return LocalFileKeyProvider(self.customer_key_dir) if self.customer_key_dir else None

    def files_provider(self) -> StaticKeyProvider:
        return StaticKeyProvider({self.files_key_id: key_bytes(self.files_key)}, purpose="files")

    def adapters_provider(self) -> StaticKeyProvider:
        return StaticKeyProvider({self.adapters_key_id: key_bytes(self.adapters_key)}, purpose="adapters")
