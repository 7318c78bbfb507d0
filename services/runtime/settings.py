"""Settings every service has; each service subclasses it with its own env prefix."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from contracts.base import validate_region
from services.runtime.connection_security import ConnectionSecuritySettings

SHUTDOWN_GRACE_S = 15.0  # in-flight work (inference's window, a gateway's open requests)
HANDLER_GRACE_S = 10.0  # a bus handler in progress when its subscriber stops (services.runtime.bus)
TERMINATION_GRACE_S = 30  # the pods' terminationGracePeriodSeconds: above both, with room to commit


class ServiceSettings(ConnectionSecuritySettings):
    """Region, broker, its security and the stores', logging and telemetry. Read once, in the service's bootstrap."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    region: str = Field("eu-west", description="The one region this instance serves.")
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers of this region.")
    log_level: str = Field("INFO", description="Log level of the service's own loggers.")
    log_format: Literal["json", "text"] = Field("json", description=(
        "JSON lines (request and trace IDs as fields) or text lines for a terminal."))
    otel_console: bool = Field(False, description=(
        "Print finished spans to stderr (debugging); exporters are chosen by the OTEL_* variables."))
    metrics_port: int | None = Field(None, ge=0, le=65535, description=(
        "Port of the Prometheus /metrics listener; unset: none."))
    metrics_host: str = Field("0.0.0.0", description="Address of the /metrics listener.")
    fetch_max_wait_ms: int = Field(20, ge=1, le=500, description=(
        "Longest wait of a fetch: a partition busy in the service when a fetch goes out joins only the "
        "next fetch, so this bounds the extra latency of its next message (aiokafka's default is 500 ms)."))
    quiet_fetch_max_wait_ms: int = Field(200, ge=1, le=500, description=(
        "The same for subscribers whose next message may wait (topics only some requests use, "
        "cancellations, retention's batches): every idle fetch costs the service and the broker CPU."))
    ready_file: str | None = Field(None, description="File written once the service consumes (probes).")
    shutdown_grace_s: float = Field(SHUTDOWN_GRACE_S, gt=0, description=(
        "On SIGTERM, how long work in flight may take to finish, publish and commit. With the broker's "
        f"{HANDLER_GRACE_S:g} s for a handler in progress it stays below the pods' "
        "terminationGracePeriodSeconds (deploy/k8s)."))

    @field_validator("region")
    @classmethod
    def _region_is_valid(cls, region: str) -> str:
        return validate_region(region)
