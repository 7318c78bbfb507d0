"""Completion bands: chosen on answer windows (training/thresholds.py), stored beside the prompt bands, and
applied to completions only (the classifier judges a text by the bands of its kind)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from services.filter.detectors.classifier import TrainedClassifier, TrainedModel
from services.filter.policy import CATEGORIES, DEFAULT_POLICY
from services.filter.ports import ScreenedText
from services.filter.screening import LayeredScreen
from services.filter.training import answers
from services.filter.training.thresholds import choose_completion_bands, completion_medium

SELF_HARM = "I want to kill myself tonight, nobody would care."


@pytest.fixture(scope="module")
def model() -> TrainedModel:
    return TrainedModel.load()


def with_category_bands(model: TrainedModel, bands: list[float]) -> TrainedModel:
    completion = model.bands.copy()
    for category in CATEGORIES:
        completion[model.heads.index(category)] = bands
    return dataclasses.replace(model, completion_bands=completion)


def test_the_completion_medium_meets_the_benign_window_budget_and_never_falls_below_the_prompts():
    benign = np.linspace(0.0, 0.9, 1000)  # 0.0009 apart
    chosen = completion_medium(benign, prompt_medium=0.3, budget=0.01)
    assert (benign >= chosen).mean() <= 0.01 and (benign >= chosen - 0.001).mean() > 0.01
    assert completion_medium(benign, prompt_medium=0.95, budget=0.01) == 0.95  # the prompt's is the floor
    assert completion_medium(benign[:100], prompt_medium=0.0, budget=0.003) > benign[99]  # none allowed: above all


def test_completion_bands_are_chosen_on_answer_windows_and_leave_the_prompt_bands(model):
    dev = answers.dev_answers()
    harmful = {a.topic.category: a for a in dev if a.harmful}  # one harmful answer per category
    sample = [a for a in dev if not a.harmful][:6] + list(harmful.values())
    chosen, report = choose_completion_bands(model, sample)
    assert np.array_equal(chosen.bands, model.bands)  # the prompt bands are untouched
    assert chosen.completion_bands is not None and chosen.completion_bands.shape == model.bands.shape
    benign_windows = [w for a in sample if not a.harmful for w in answers.stream_windows(a.text)]
    scores = model.probabilities(benign_windows)
    for h, head in enumerate(model.heads):
        low, medium, high = chosen.completion_bands[h]
        if head not in CATEGORIES:
            assert np.array_equal(chosen.completion_bands[h], model.bands[h])
            continue
        assert medium >= model.bands[h][1] and low == pytest.approx(medium / 2) and medium < high < 1
        assert (scores[:, h] >= medium).sum() == 0  # under 333 windows the 0.3 % budget allows none
        assert report[head]["benign_window_fpr"] == 0.0  # type: ignore[index]


async def test_completions_are_judged_by_the_completion_bands_and_everything_else_by_the_prompt_bands(model):
    lenient = TrainedClassifier(with_category_bands(model, [2.0, 2.0, 2.0]))
    assert (await lenient.detect(SELF_HARM, "prompt", DEFAULT_POLICY)).severities["self_harm"] in ("medium", "high")
    for kind in ("instruction", "context", "document"):
        assert (await lenient.detect(SELF_HARM, kind, DEFAULT_POLICY)).severities["self_harm"] != "safe"  # type: ignore[arg-type]
    assert (await lenient.detect(SELF_HARM, "completion", DEFAULT_POLICY)).severities["self_harm"] == "safe"
    strict = TrainedClassifier(with_category_bands(model, [0.0, 0.0, 0.0]))
    bread = "How do I bake sourdough bread at home?"
    assert (await strict.detect(bread, "prompt", DEFAULT_POLICY)).severities["hate"] == "safe"
    assert (await strict.detect(bread, "completion", DEFAULT_POLICY)).severities["hate"] == "high"


async def test_the_screen_uses_completion_bands_for_completions_and_prompt_bands_for_prompts(model):
    screen = LayeredScreen([TrainedClassifier(with_category_bands(model, [2.0, 2.0, 2.0]))])
    assert (await screen.screen_prompt([ScreenedText(SELF_HARM, "prompt")], DEFAULT_POLICY)).blocked
    completion = await screen.screen_completion(SELF_HARM, DEFAULT_POLICY)  # a stream window goes the same way
    assert not completion.blocked and completion.results["self_harm"] == {"filtered": False, "severity": "safe"}


def test_an_artefact_without_completion_bands_reads_and_judges_completions_by_the_prompt_bands(model, tmp_path):
    old = tmp_path / "before.npz"
    dataclasses.replace(model, completion_bands=None).save(old)
    loaded = TrainedModel.load(old, embedder=model.embedder)
    assert loaded.completion_bands is None and loaded.bands_for("completion") is loaded.bands
    assert loaded.severity("hate", 0.5, "completion") == loaded.severity("hate", 0.5, "prompt")
    new = tmp_path / "after.npz"
    with_category_bands(model, [0.3, 0.6, 0.9]).save(new)
    reread = TrainedModel.load(new, embedder=model.embedder)
    assert reread.completion_bands is not None and np.allclose(reread.bands_for("completion")[0], [0.3, 0.6, 0.9])
    assert np.array_equal(reread.bands, model.bands)


def test_the_committed_artefact_has_completion_bands_no_stricter_than_the_prompt_bands(model):
    assert model.completion_bands is not None
    for category in CATEGORIES:
        h = model.heads.index(category)
        assert model.completion_bands[h][1] >= model.bands[h][1]
