"""The cascade's slow step: contextual sentence embeddings from the packaged all-MiniLM-L6-v2.

The static embedding is a bag of tokens: "how do I make meth" and "why is meth addictive" share
most of it. The transformer itself reads the tokens in context (~5-10 ms a short text on one CPU
thread here, against ~0.1 ms), so it only runs for texts the fast heads already suspect
(``TrainedClassifier``: harmful-request probability at or above its ``low`` band). Loaded when the
filter starts (``LayeredScreen.warm``) or else on first use, in this process, on one thread (torch and
transformers come with the inference extra), and screened with as a frozen TorchScript graph.

An ``adapter`` tunes the transformer for the cascade's question: low-rank updates (LoRA) to named
linear layers, ``weight += up @ down``, merged into the weights once at load, so a tuned model costs
what the packaged one does. The packaged weights are never written.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

MAX_TOKENS = 128

# One low-rank update of a linear layer: (down (rank, in), up (out, rank)), up already scaled.
Adapter = Mapping[str, tuple[np.ndarray, np.ndarray]]


def merge_adapter(model: Any, adapter: Adapter) -> None:
    """Add each named linear layer's low-rank update to its weight, in place."""
    import torch

    with torch.no_grad():
        for name, (down, up) in adapter.items():
            weight = model.get_submodule(name).weight
            if weight.shape != (up.shape[0], down.shape[1]):
                raise ValueError(f"adapter for {name}: {up.shape[0]}x{down.shape[1]}, layer {tuple(weight.shape)}")
            weight += torch.from_numpy(up.astype(np.float32) @ down.astype(np.float32))


def load_minilm() -> tuple[Any, Any]:
    """The packaged MiniLM (in eval mode) and its tokenizer, unpadded and truncated at MAX_TOKENS."""
    from tokenizers import Tokenizer
    from transformers import AutoModel

    from services.filter.detectors.static_embedding import minilm_path

    tokenizer = Tokenizer.from_file(str(minilm_path() / "tokenizer.json"))
    tokenizer.no_padding()  # the packaged tokenizer pads to 128: pooled padding would dilute short texts
    tokenizer.enable_truncation(MAX_TOKENS)
    return AutoModel.from_pretrained(str(minilm_path())).eval(), tokenizer


def frozen_for_inference(model: Any, tokenizer: Any) -> Any:
    """The merged model as a frozen TorchScript graph: traced once on a sample text (every shape stays
    dynamic), weights folded in, ops fused (``torch.jit.optimize_for_inference``). The same embeddings
    as the eager model (``tests/unit/test_filter_cascade.py``, every length up to MAX_TOKENS; on the 1,513
    dev texts the fast head routes, every cascade probability equal) for less CPU: in session 10, per
    routed text p50 22.9 -> 15.9 ms; the whole prompt screen's mean CPU, interleaved, 15.1 / 13.5 ->
    12.6 / 12.1 ms on the eval mix and 7.5 / 6.4 -> 5.4 / 5.9 ms on benign texts. Freezing takes ~1 s
    at load."""
    import torch

    class HiddenStates(torch.nn.Module):
        """The last hidden states from token IDs alone (one text, unpadded: every mask is ones)."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                              token_type_ids=torch.zeros_like(input_ids), return_dict=False)[0]

    sample = torch.tensor([tokenizer.encode("A sample text to trace the model with.").ids])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on Python values it records as constants
        traced = torch.jit.trace(HiddenStates().eval(), (sample,), strict=False)
        return torch.jit.optimize_for_inference(torch.jit.freeze(traced))


class ContextualEmbedder:
    """Text -> mean-pooled, L2-normalised all-MiniLM-L6-v2 embedding (sentence-transformers' pooling),
    from the packaged model or, with an ``adapter``, the model tuned by it."""

    dimensions = 384

    def __init__(self, adapter: Adapter | None = None) -> None:
        self.adapter: Adapter = dict(adapter or {})
        self._lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        import torch

        torch.set_num_threads(1)
        model, tokenizer = load_minilm()
        merge_adapter(model, self.adapter)
        self._model, self._tokenizer = frozen_for_inference(model, tokenizer), tokenizer

    def embed(self, texts: list[str]) -> np.ndarray:
        import torch

        with self._lock:
            if self._model is None:
                self._load()
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        with torch.inference_mode():
            for i, encoding in enumerate(self._tokenizer.encode_batch(texts)):
                hidden = self._model(torch.tensor([encoding.ids]))
                vector = hidden[0].mean(dim=0).numpy()
                out[i] = vector / max(float(np.linalg.norm(vector)), 1e-12)
        return out
