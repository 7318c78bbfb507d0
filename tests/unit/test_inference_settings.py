"""GPU deployments are configuration: the settings accept them and refuse inconsistent ones."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.inference.adapters.vllm_setup import engine_args
from services.inference.settings import InferenceSettings


def test_a_gpu_deployment_is_settings_only():
    settings = InferenceSettings(device="gpu", dtype="bfloat16", enforce_eager=False, tensor_parallel_size=2,
                                 gpu_memory_utilization=0.85, max_model_len=8192, max_num_seqs=256,
                                 max_num_batched_tokens=16384)
    args = engine_args("/models/llama", settings, pooling=False)
    assert (args.tensor_parallel_size, args.gpu_memory_utilization, args.max_model_len) == (2, 0.85, 8192)
    assert (args.max_num_seqs, args.max_num_batched_tokens, args.dtype, args.enforce_eager) == \
        (256, 16384, "bfloat16", False)
    assert args.enable_lora and not args.enable_log_requests


def test_the_cpu_defaults_are_those_measured_to_be_correct_here():
    args = engine_args("/models/smol", InferenceSettings(), pooling=False)
    assert (args.dtype, args.enforce_eager, args.max_model_len) == ("float32", True, 2048)


@pytest.mark.parametrize("bad", [
    {"device": "cpu", "tensor_parallel_size": 2},
    {"device": "cpu", "dtype": "bfloat16", "enforce_eager": False},
    {"gpu_memory_utilization": 1.5},
])
def test_inconsistent_engine_settings_are_refused(bad):
    with pytest.raises(ValidationError):
        InferenceSettings(**bad)


def test_embedding_engines_keep_the_models_own_context_length():
    args = engine_args("/models/minilm", InferenceSettings(), pooling=True)
    assert args.runner == "pooling" and not args.enable_lora


def test_on_cpu_base_requests_run_on_an_engine_without_lora_and_adapters_on_their_own():
    settings = InferenceSettings()
    assert settings.separate_adapter_engine
    assert not engine_args("/models/smol", settings, pooling=False).enable_lora
    adapters = engine_args("/models/smol", settings, pooling=False, adapters=True)
    assert adapters.enable_lora and (adapters.max_loras, adapters.max_lora_rank) == (4, 16)


@pytest.mark.parametrize(("options", "separate", "base_lora"), [
    ({"device": "gpu", "dtype": "bfloat16", "enforce_eager": False}, False, True),  # auto: one engine on a GPU
    ({"lora_engine": "shared"}, False, True),
    ({"device": "gpu", "dtype": "bfloat16", "lora_engine": "separate"}, True, False),
    ({"enable_lora": False}, False, False),
])
def test_where_adapters_run_is_a_setting(options, separate, base_lora):
    settings = InferenceSettings(**options)
    assert (settings.separate_adapter_engine, settings.base_engine_lora) == (separate, base_lora)
    assert engine_args("/models/m", settings, pooling=False).enable_lora == base_lora
