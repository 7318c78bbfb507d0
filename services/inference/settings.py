"""Inference settings (env prefix RESIDENCY_INFERENCE_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import ServiceSettings


class InferenceSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RESIDENCY_INFERENCE_", extra="ignore", frozen=True)

    engine: str = Field("echo", description="Engine adapter: 'echo' (deterministic, no model) until vLLM lands.")
    models: list[str] = Field(default_factory=lambda: ["smollm2-135m-instruct"],
                              description="Model names this instance serves.")
    echo_delay_per_token_s: float = Field(0.0, ge=0, description="Echo engine: pause per token (tests).")
