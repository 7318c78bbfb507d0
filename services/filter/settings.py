"""Filter settings (env prefix RESIDENCY_FILTER_)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.filter.policy import FilterPolicy
from services.runtime.settings import ServiceSettings

Layer = Literal["blocklists", "lexicon", "pii", "classifier", "guard"]


class FilterSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RESIDENCY_FILTER_", extra="ignore", frozen=True)

    layers: tuple[Layer, ...] = Field(
        ("blocklists", "lexicon", "pii", "classifier"),
        description="Detectors, cheapest first; 'guard' adds a guard model (GUARD_MODEL_PATH).")
    classifier_path: str | None = Field(
        None, description="Trained artefact; default services/filter/data/classifier.npz.")
    classifier_cascade: bool = Field(
        True, description="Send prompts the fast harmful-request head suspects to the contextual MiniLM head "
                          "(~10 ms each); off: the fast head alone decides.")
    guard_model_path: str | None = Field(
        None, description="Folder of a Llama-Guard-style model served in-process by vLLM.")
    guard_timeout_s: float = Field(5.0, gt=0, description="Longest wait for the guard model; then a detector error.")
    policy_store: Literal["mongo", "static"] = Field(
        "mongo",
        description="'mongo': per-resource policies in the region's MongoDB; 'static': DEFAULT_POLICY for all.")
    mongo_uri: SecretStr = Field(
        SecretStr("mongodb://127.0.0.1:27017/"), description="The region's MongoDB (policies).")
    policy_database: str | None = Field(
        None, description="Database of the policies; default residency_filter_<region>.")
    policy_cache_s: float = Field(30.0, ge=0, description="How long a resource's policy is cached in memory.")
    default_policy: FilterPolicy = Field(
        default_factory=FilterPolicy, description="Policy of resources without one (JSON); Azure's defaults.")
    stream_window_chars: int = Field(160, ge=16, description="Characters screened per streaming window.")
    stream_overlap_chars: int = Field(40, ge=0, description="Characters of context carried between windows.")
    stream_first_window_chars: int = Field(48, ge=1, description=(
        "Characters the first buffered window releases (it screens them plus the overlap): how much "
        "text a buffered stream's first token waits for. A first sentence that ends within them goes "
        "out as soon as its end is seen."))

    batch_max_records: int = Field(32, ge=1, le=1000, description=(
        "Most records one fetch hands each subscriber: they are screened in order, their publishes "
        "acknowledged together, and one offset commit follows (services.runtime.batches)."))

    @property
    def policy_database_name(self) -> str:
        return self.policy_database or f"residency_filter_{self.region.replace('-', '_')}"

    @model_validator(mode="after")
    def _consistent(self) -> FilterSettings:
        if self.stream_overlap_chars * 2 >= self.stream_window_chars:
            raise ValueError("stream_overlap_chars must be below half of stream_window_chars")
        if "guard" in self.layers and not self.guard_model_path:
            raise ValueError("layer 'guard' needs RESIDENCY_FILTER_GUARD_MODEL_PATH")
        return self
