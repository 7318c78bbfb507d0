"""Settings every service has; each service subclasses it with its own env prefix."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.base import validate_region


class ServiceSettings(BaseSettings):
    """Region, broker and logging. Read once, in the service's bootstrap."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    region: str = Field("eu-west", description="The one region this instance serves.")
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers of this region.")
    log_level: str = Field("INFO", description="Log level of the service's own loggers.")
    otel_console: bool = Field(False, description="Print finished spans to stderr (debugging).")
    ready_file: str | None = Field(None, description="File written once the service consumes (probes).")

    @field_validator("region")
    @classmethod
    def _region_is_valid(cls, region: str) -> str:
        return validate_region(region)
