"""The cascade's slow step: contextual sentence embeddings from the packaged all-MiniLM-L6-v2.

The static embedding is a bag of tokens: "how do I make meth" and "why is meth addictive" share
most of it. The transformer itself reads the tokens in context (~5-10 ms a short text on one CPU
thread here, against ~0.1 ms), so it only runs for texts the fast heads already suspect
(``TrainedClassifier``: harmful-request probability at or above its ``low`` band). Loaded on first
use, in this process, on one thread (torch and transformers come with the inference extra).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

MAX_TOKENS = 128


class ContextualEmbedder:
    """Text -> mean-pooled, L2-normalised all-MiniLM-L6-v2 embedding (sentence-transformers' pooling)."""

    dimensions = 384

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        import torch
        from tokenizers import Tokenizer
        from transformers import AutoModel

        from services.filter.detectors.static_embedding import minilm_path

        torch.set_num_threads(1)
        tokenizer = Tokenizer.from_file(str(minilm_path() / "tokenizer.json"))
        tokenizer.no_padding()  # the packaged tokenizer pads to 128: pooled padding would dilute short texts
        tokenizer.enable_truncation(MAX_TOKENS)
        self._model = AutoModel.from_pretrained(str(minilm_path())).eval()
        self._tokenizer = tokenizer

    def embed(self, texts: list[str]) -> np.ndarray:
        import torch

        with self._lock:
            if self._model is None:
                self._load()
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        with torch.inference_mode():
            for i, encoding in enumerate(self._tokenizer.encode_batch(texts)):
                ids = torch.tensor([encoding.ids])
                hidden = self._model(input_ids=ids, attention_mask=torch.ones_like(ids),
                                     token_type_ids=torch.zeros_like(ids)).last_hidden_state
                vector = hidden[0].mean(dim=0).numpy()
                out[i] = vector / max(float(np.linalg.norm(vector)), 1e-12)
        return out
