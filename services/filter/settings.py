"""Filter settings (env prefix RESIDENCY_FILTER_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import ServiceSettings


class FilterSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RESIDENCY_FILTER_", extra="ignore", frozen=True)

    screen: str = Field("pass-through", description="Screen adapter; 'pass-through' runs no detector yet.")
