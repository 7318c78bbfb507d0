"""Settings every service has; each service subclasses it with its own env prefix."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.base import validate_region

SHUTDOWN_GRACE_S = 15.0  # in-flight work (inference's window, a gateway's open requests)
HANDLER_GRACE_S = 10.0  # a bus handler in progress when its subscriber stops (services.runtime.bus)
TERMINATION_GRACE_S = 30  # the pods' terminationGracePeriodSeconds: above both, with room to commit


class ServiceSettings(BaseSettings):
    """Region, broker and logging. Read once, in the service's bootstrap."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    region: str = Field("eu-west", description="The one region this instance serves.")
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers of this region.")
    log_level: str = Field("INFO", description="Log level of the service's own loggers.")
    otel_console: bool = Field(False, description="Print finished spans to stderr (debugging).")
    fetch_max_wait_ms: int = Field(20, ge=1, le=500, description=(
        "Longest wait of a fetch: a partition busy in the service when a fetch goes out joins only the "
        "next fetch, so this bounds the extra latency of its next message (aiokafka's default is 500 ms)."))
    ready_file: str | None = Field(None, description="File written once the service consumes (probes).")
    shutdown_grace_s: float = Field(SHUTDOWN_GRACE_S, gt=0, description=(
        "On SIGTERM, how long work in flight may take to finish, publish and commit. With the broker's "
        f"{HANDLER_GRACE_S:g} s for a handler in progress it stays below the pods' "
        "terminationGracePeriodSeconds (deploy/k8s)."))

    @field_validator("region")
    @classmethod
    def _region_is_valid(cls, region: str) -> str:
        return validate_region(region)
