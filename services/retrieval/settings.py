"""Retrieval settings (env prefix RESIDENCY_RETRIEVAL_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import ServiceSettings


class RetrievalSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RESIDENCY_RETRIEVAL_", extra="ignore", frozen=True)

    max_candidates: int = Field(200, ge=1, le=5000, description="Documents read per request before ranking.")
    connect_timeout_ms: int = Field(5000, ge=100, description="Time allowed to reach a customer's store.")
