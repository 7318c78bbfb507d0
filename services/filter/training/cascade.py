"""Tune the cascade's transformer for harmful requests: low-rank adapters (LoRA) on the packaged MiniLM.

The first cascade read the packaged all-MiniLM-L6-v2's embedding as it is, through a small network:
the embedding was made for sentence similarity, so a request and a discussion of the same act sit
close together. Here the transformer itself learns the question. Each of its six layers gets rank-8
updates on the attention's query and value and on both feed-forward layers (258k trainable numbers
beside the model's 22.7M, which stay frozen), and one logistic unit reads the mean-pooled, normalised
embedding; trained on every training text that knows ``harmful_request`` (contrastive pairs weigh 3x,
as for the fast heads) with AdamW and a one-cycle schedule. The adapter is merged into the weights when
the filter loads it (``detectors/contextual.py``), so screening costs what it did.

Chosen on the dev split (harmful requests against benign dev texts, no gate; one epoch = 403 steps):
packaged MiniLM + ReLU network ROC AUC 0.966, recall at a 3.3 % benign false-positive rate 0.770;
tuned 1 epoch 0.988 / 0.917, 2 epochs 0.994 / 0.971, 3 epochs 0.996 / 0.981 (kept). Training reads
the first ``TRAIN_TOKENS`` tokens of a text (the request is in them for nearly every text, and it
halves the time of the long jailbreak prompts), on two threads, about 8 minutes on an idle 2-core
machine; deterministic for the same thread count (fixed seeds). The filter reads up to 128 tokens
(``contextual.MAX_TOKENS``), so a longer text is judged on tokens the adapter never trained on; the dev
thresholds are chosen on the filter's own reading. The low-rank update is written here rather than taken
from peft (the tuning service's): it is a dozen lines, and the filter then needs no peft, only one addition
per layer at load.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch

from services.filter.detectors.contextual import Adapter, ContextualEmbedder, load_minilm

RANK = 8
ALPHA = 16.0
EPOCHS = 3
BATCH = 32
LEARNING_RATE = 1e-3
TRAIN_TOKENS = 64
POOLED_SCALE = 10.0  # the normalised embedding is scaled before the unit (its weights stay small)
TUNED = ("attention.self.query", "attention.self.value", "intermediate.dense", "output.dense")


def tune(texts: list[str], labels: np.ndarray, weights: np.ndarray, *, epochs: float = EPOCHS,
         seed: int = 0) -> tuple[Adapter, np.ndarray, float]:
    """The adapter, and the unit's coefficients and intercept over ``ContextualEmbedder``'s embedding (on two
    threads; the caller's thread count is restored)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        return _tune(texts, labels, weights, epochs, seed)
    finally:
        torch.set_num_threads(threads)


def _tune(texts: list[str], labels: np.ndarray, weights: np.ndarray, epochs: float,
          seed: int) -> tuple[Adapter, np.ndarray, float]:
    torch.manual_seed(seed)
    model, tokenizer = load_minilm()
    tokenizer.enable_truncation(TRAIN_TOKENS)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    adapters = {f"encoder.layer.{i}.{name}": LowRank(model.get_submodule(f"encoder.layer.{i}.{name}"))
                for i in range(len(model.encoder.layer)) for name in TUNED}
    for name, adapter in adapters.items():
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent), child, adapter)
    unit = torch.nn.Linear(ContextualEmbedder.dimensions, 1)
    parameters = [p for a in adapters.values() for p in (a.down, a.up)] + list(unit.parameters())
    optimiser = torch.optim.AdamW(parameters, lr=LEARNING_RATE, weight_decay=0.01)
    steps = int(epochs * len(texts) / BATCH)
    if steps < 1:
        raise ValueError(f"{len(texts)} texts make no batch of {BATCH}")
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, LEARNING_RATE, total_steps=steps, pct_start=0.1)
    target, weight = torch.tensor(labels, dtype=torch.float32), torch.tensor(weights, dtype=torch.float32)
    rng, step, started = np.random.default_rng(seed), 0, time.monotonic()
    model.train()
    while step < steps:
        for batch in _batches(texts, rng):
            if step == steps:
                break
            ids, mask = encode(tokenizer, [texts[i] for i in batch])
            logits = unit(POOLED_SCALE * pooled(model, ids, mask)).squeeze(-1)
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(logits, target[batch], reduction="none")
                    * weight[batch]).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            step += 1
            if step % 100 == 0:
                print(f"[filter-train] cascade tuning step {step}/{steps}, loss {loss.item():.3f}, "
                      f"{time.monotonic() - started:.0f} s", flush=True)
    merged = {name: (a.down.detach().numpy().copy(), (a.scale * a.up.detach()).numpy().copy())
              for name, a in adapters.items()}
    coef = POOLED_SCALE * unit.weight.detach().numpy()[0].astype(np.float32)
    return merged, coef, float(unit.bias.detach().numpy()[0])


class LowRank(torch.nn.Module):
    """A frozen linear layer plus a trainable rank-``RANK`` update that starts at zero."""

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        self.linear = linear
        self.down = torch.nn.Parameter(torch.randn(RANK, linear.in_features) / math.sqrt(linear.in_features))
        self.up = torch.nn.Parameter(torch.zeros(linear.out_features, RANK))
        self.scale = ALPHA / RANK

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) + self.scale * (x @ self.down.T @ self.up.T)


def _batches(texts: list[str], rng: np.random.Generator) -> list[list[int]]:
    """One epoch of batches: shuffled, then sorted by length within chunks of 50 batches (less padding)."""
    order = rng.permutation(len(texts))
    batches: list[list[int]] = []
    for start in range(0, len(order), BATCH * 50):
        chunk = sorted(order[start:start + BATCH * 50].tolist(), key=lambda i: len(texts[i]))
        batches += [chunk[i:i + BATCH] for i in range(0, len(chunk), BATCH)]
    return [batches[i] for i in rng.permutation(len(batches))]


def encode(tokenizer: Any, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    encodings = tokenizer.encode_batch(texts)
    ids = torch.zeros(len(texts), max(len(e.ids) for e in encodings), dtype=torch.long)
    mask = torch.zeros(ids.shape)
    for row, encoding in enumerate(encodings):
        ids[row, :len(encoding.ids)] = torch.tensor(encoding.ids)
        mask[row, :len(encoding.ids)] = 1.0
    return ids, mask


def pooled(model: Any, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the real tokens, normalised: what ``ContextualEmbedder.embed`` computes one text at a time
    (for the tokens the tokenizer keeps: training truncates at ``TRAIN_TOKENS``, the filter at 128)."""
    hidden = model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).last_hidden_state
    return torch.nn.functional.normalize((hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True), dim=-1)
