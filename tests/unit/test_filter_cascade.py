"""The cascade's tuned transformer: what training computes is what the filter screens with."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
import torch

from services.filter.detectors.classifier import Cascade, TrainedModel
from services.filter.detectors.contextual import ContextualEmbedder, load_minilm, merge_adapter
from services.filter.training.cascade import TUNED, LowRank, encode, pooled


def test_an_adapter_adds_its_low_rank_update_to_the_named_layer():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3, bias=False))
    before = model[0].weight.detach().clone()
    down, up = np.arange(8, dtype=np.float32).reshape(2, 4), np.ones((3, 2), dtype=np.float32)
    merge_adapter(model, {"0": (down, up)})
    assert torch.allclose(model[0].weight, before + torch.from_numpy(up @ down))


def test_an_adapter_of_the_wrong_shape_is_refused():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3))
    with pytest.raises(ValueError, match="adapter for 0"):
        merge_adapter(model, {"0": (np.zeros((2, 5), np.float32), np.zeros((3, 2), np.float32))})


def test_the_merged_model_embeds_as_the_tuned_one_did():
    """Training runs the frozen layers plus their low-rank updates; the filter merges the updates into the
    weights once. Both must give the same embedding, or the bands chosen in training mean nothing."""
    torch.manual_seed(1)
    tuned, tokenizer = load_minilm()
    adapter = {}
    for name in (f"encoder.layer.{i}.{layer}" for i in (0, 5) for layer in TUNED):
        parent, _, child = name.rpartition(".")
        low_rank = LowRank(tuned.get_submodule(name))
        torch.nn.init.normal_(low_rank.up, std=0.02)  # a trained adapter is not zero
        setattr(tuned.get_submodule(parent), child, low_rank)
        adapter[name] = (low_rank.down.detach().numpy().copy(), (low_rank.scale * low_rank.up.detach()).numpy().copy())
    texts = ["How do I pick a lock to get into my neighbour's flat?", "Why is the sky blue?"]
    with torch.no_grad():
        ids, mask = encode(tokenizer, texts)
        trained = pooled(tuned.eval(), ids, mask).numpy()
    merged = ContextualEmbedder(adapter).embed(texts)
    packaged = ContextualEmbedder().embed(texts)
    assert np.allclose(merged, trained, atol=1e-4)
    assert not np.allclose(merged, packaged, atol=1e-3)  # the adapter changed something


def test_the_artefact_keeps_the_adapter_and_the_unit():
    adapter = {"encoder.layer.0.attention.self.query": (np.ones((8, 384), np.float32), np.zeros((384, 8), np.float32))}
    cascade = Cascade(coef=np.linspace(-1, 1, 384, dtype=np.float32), intercept=-0.5,
                      bands=np.array([0.2, 0.5, 0.9], np.float32), embedder=ContextualEmbedder(adapter))
    buffer = io.BytesIO()
    np.savez(buffer, **cascade.arrays())
    buffer.seek(0)
    with np.load(buffer) as stored:
        loaded = Cascade.from_arrays(stored, -0.5)
    assert loaded.hidden_coef is None
    assert np.array_equal(loaded.coef, cascade.coef) and np.array_equal(loaded.bands, cascade.bands)
    assert loaded.embedder.adapter.keys() == adapter.keys()
    for name, (down, up) in adapter.items():
        assert np.array_equal(loaded.embedder.adapter[name][0], down)
        assert np.array_equal(loaded.embedder.adapter[name][1], up)


@pytest.mark.parametrize("hidden", [False, True], ids=["tuned transformer", "ReLU layer (artefacts before it)"])
def test_a_saved_model_loads_with_its_cascade(tmp_path, hidden):
    model = TrainedModel.load()
    down, up = np.full((8, 1536), 0.5, np.float32), np.full((384, 8), 0.25, np.float32)
    adapter = {"encoder.layer.1.output.dense": (down, up)}
    layer = {"hidden_coef": np.eye(384, 8, dtype=np.float32), "hidden_intercept": np.ones(8, np.float32)}
    cascade = Cascade(coef=np.ones(8 if hidden else 384, np.float32), intercept=-1.5,
                      bands=np.array([0.3, 0.6, 0.9], np.float32),
                      embedder=ContextualEmbedder({} if hidden else adapter), **(layer if hidden else {}))
    dataclasses.replace(model, cascade=cascade).save(tmp_path / "model.npz")
    loaded = TrainedModel.load(tmp_path / "model.npz", embedder=model.embedder).cascade
    assert loaded is not None and loaded.intercept == -1.5 and np.array_equal(loaded.bands, cascade.bands)
    assert (loaded.hidden_coef is not None) == hidden
    assert {name: [a.tolist() for a in pair] for name, pair in loaded.embedder.adapter.items()} == (
        {} if hidden else {name: [a.tolist() for a in pair] for name, pair in adapter.items()})


def test_the_frozen_graph_embeds_as_the_eager_model_at_every_length():
    """The filter screens with a traced, frozen graph; tracing records one sample's shapes, so texts of
    one token, of a few, and past MAX_TOKENS (truncated) must come out as the eager model's."""
    from services.filter.detectors.contextual import MAX_TOKENS, frozen_for_inference

    model, tokenizer = load_minilm()
    frozen = frozen_for_inference(model, tokenizer)
    texts = ["Hi", "How do I pick a lock to get into my neighbour's flat?",
             " ".join(f"word{i}" for i in range(3 * MAX_TOKENS))]
    lengths = []
    with torch.inference_mode():
        for text in texts:
            ids = torch.tensor([tokenizer.encode(text).ids])
            lengths.append(ids.shape[1])
            eager = model(input_ids=ids, attention_mask=torch.ones_like(ids),
                          token_type_ids=torch.zeros_like(ids)).last_hidden_state
            assert torch.allclose(frozen(ids), eager, atol=1e-5), text[:20]
    assert lengths[0] < 5 < lengths[1] < lengths[2] == MAX_TOKENS
