"""Thresholds chosen on the dev split: where ``medium`` (the default policy's threshold) begins for each
head the prompt screen blocks on, and which prompts the harmful-request cascade sees.

Each head gets a share of the benign false-positive budget (``BUDGET``; they add up to 0.05, the
issue's target for the whole screen) and its ``medium`` band starts where its false-positive rate on
the dev split's benign texts falls to that share; ``low`` is half of it, ``high`` stays at least
halfway from ``medium`` to 1. For harmful requests, the fast head's threshold for sending a prompt to
the cascade is chosen among ``ROUTES`` for the best dev recall at the budget, as long as at most
``ROUTED_BENIGN_MAX`` of the benign dev prompts take the slow step (what the hot path pays, where nearly
every prompt is benign: the median one must not, and every routed prompt costs 5-20 ms of CPU; on a mix
with many harmful texts, such as the eval's, more than half can be routed), and with the cascade's
``medium`` at least ``CASCADE_MEDIUM_MIN``. Until session 8 the cap was 35 % of
all dev prompts, harmful ones included; with the cascade's transformer tuned, routing is what limits
recall (routing more costs the benign rate almost nothing), so the cap is now on what it costs.
Indirect attack is a document head: its training bands stay. The dev split is therefore not evidence
of anything after this; the outside test split (outside.py) is never used for a choice.

Completions get bands of their own for the four category heads (``choose_completion_bands``), chosen the
same way on the dev *answers* (answers.py) cut into the windows the buffered stream screens: ``medium``
where the head's false-positive rate on benign answer windows falls to the head's prompt budget, never
below the prompt ``medium`` (answer text from one author is too narrow a sample to make completions
stricter than prompts on). The dev answers are then no more held out than the dev prompts.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from services.filter.detectors.classifier import TrainedModel
from services.filter.policy import CATEGORIES
from services.filter.training.answers import Answer, stream_windows
from services.filter.training.dataset import Example

BUDGET = {"harmful_request": 0.033, "hate": 0.003, "sexual": 0.003, "violence": 0.003, "self_harm": 0.003,
          "jailbreak": 0.005}  # dev, session 4's cascade: harmful 0.025, 0.005 each: recall 0.737; 0.035, 0.003: 0.769
ROUTES = (0.3, 0.2, 0.15, 0.1, 0.07, 0.05)
ROUTED_BENIGN_MAX = 0.2
# The tuned cascade's probabilities saturate on dev, whose texts come from the same authors and forms as its
# training texts: its budget threshold ran into medium_for's 0.02 floor, i.e. dev cannot calibrate it. It must
# call a request more likely harmful than not. (Set in session 8 after the outside split had been measured once
# with the 0.02 threshold: benign blocked 0.127; README, Filter.)
CASCADE_MEDIUM_MIN = 0.5


def medium_for(benign_scores: np.ndarray, budget: float) -> float:
    """The lowest threshold at which at most ``budget`` of the benign scores reach it."""
    scores = np.sort(benign_scores)
    allowed = int(np.floor(budget * len(scores)))
    return float(min(max(scores[len(scores) - allowed - 1] + 1e-6, 0.02), 0.98))


def _bands(medium: float, high: float) -> np.ndarray:
    return np.array([medium / 2, medium, min(max(high, medium + (1 - medium) / 2), 0.999)], dtype=np.float32)


def choose_on_dev(model: TrainedModel, dev: list[Example]) -> tuple[TrainedModel, dict[str, object]]:
    texts = [e.text for e in dev]
    fast = model.probabilities(texts)
    bands = model.bands.copy()
    report: dict[str, object] = {}
    for head, budget in BUDGET.items():
        h = model.heads.index(head)
        known = np.array([head in e.known for e in dev])
        benign = known & np.array([e.benign for e in dev])
        positive = known & np.array([head in e.positive for e in dev])
        if head != "harmful_request" or model.cascade is None:
            medium = medium_for(fast[benign, h], budget)
            bands[h] = _bands(medium, float(bands[h][2]))
            recall = float((fast[positive, h] >= medium).mean())
            report[head] = {"medium": round(medium, 4), "dev_recall": round(recall, 3)}
            continue
        slow = np.zeros(len(dev))
        wanted = np.flatnonzero(fast[:, h] >= min(ROUTES))
        slow[wanted] = model.cascade.probabilities([texts[i] for i in wanted])
        best: tuple[float, float, float, float] | None = None
        for route in ROUTES:
            routed = fast[:, h] >= route
            final = np.where(routed, slow, 0.0)
            medium = max(medium_for(final[benign], budget), CASCADE_MEDIUM_MIN)
            recall, share = float((final[positive] >= medium).mean()), float(routed[benign].mean())
            print(f"[filter-train] dev: cascade from fast >= {route:.2f}: {share:.1%} of benign dev prompts routed, "
                  f"recall {recall:.3f} at medium {medium:.3f}")
            if share <= ROUTED_BENIGN_MAX and (best is None or recall > best[0]):
                best = (recall, route, medium, share)
        assert best is not None, "every route sends more benign prompts to the cascade than ROUTED_BENIGN_MAX"
        recall, route, medium, share = best
        bands[h][0] = route  # the fast head's low band is what sends a prompt to the cascade
        cascade = dataclasses.replace(model.cascade, bands=_bands(medium, 0.9))
        model = dataclasses.replace(model, cascade=cascade)
        report[head] = {"route": route, "routed_benign_share": round(share, 3), "cascade_medium": round(medium, 4),
                        "dev_recall": round(recall, 3)}
    for head, chosen in report.items():
        print(f"[filter-train] dev-chosen {head:16s} {chosen}")
    return dataclasses.replace(model, bands=bands), report


def completion_medium(benign_window_scores: np.ndarray, prompt_medium: float, budget: float) -> float:
    """Where ``medium`` begins for completions: the benign-window budget's threshold, at least the prompt's."""
    return max(medium_for(benign_window_scores, budget), prompt_medium)


def choose_completion_bands(model: TrainedModel, dev_answers: list[Answer]) -> tuple[TrainedModel, dict[str, object]]:
    """The four category heads' completion bands, on the windows the stream screens of each dev answer; the
    other heads' rows repeat the prompt bands (completions are judged by the four categories only)."""
    windows = [(window, answer) for answer in dev_answers for window in stream_windows(answer.text)]
    scores = model.probabilities([w for w, _ in windows])
    harmful = np.array([a.harmful for _, a in windows])
    bands = model.bands.copy()
    report: dict[str, object] = {}
    for head in CATEGORIES:
        h = model.heads.index(head)
        medium = completion_medium(scores[~harmful, h], float(model.bands[h][1]), BUDGET[head])
        bands[h] = _bands(medium, float(model.bands[h][2]))
        own = harmful & np.array([a.topic.category == head for _, a in windows])
        fpr = float((scores[~harmful, h] >= medium).mean())
        report[head] = {"medium": round(medium, 4), "prompt_medium": round(float(model.bands[h][1]), 4),
                        "benign_window_fpr": round(fpr, 4), "budget_met": fpr <= BUDGET[head],
                        "own_harmful_window_recall": round(float((scores[own, h] >= medium).mean()), 3)
                        if own.any() else None}
        print(f"[filter-train] completion bands {head:9s} {report[head]}")
        if fpr > BUDGET[head]:
            print(f"[filter-train] WARNING: the {head} completion band misses its benign budget "
                  f"({fpr:.4f} > {BUDGET[head]}): medium stopped at the cap")
    print(f"[filter-train] completion bands chosen on {len(windows)} windows of {len(dev_answers)} dev answers")
    return dataclasses.replace(model, completion_bands=bands), report


def main() -> None:
    """Choose the thresholds again on the committed artefact (no retraining): ``python -m
    services.filter.training.thresholds``."""
    import json

    from services.filter.detectors.classifier import MODEL_PATH
    from services.filter.training.answers import dev_answers
    from services.filter.training.dataset import build, is_answer

    with np.load(MODEL_PATH, allow_pickle=False) as stored:
        meta = json.loads(str(stored["meta"]))
    model, chosen = choose_on_dev(TrainedModel.load(MODEL_PATH),
                                  [e for e in build() if e.split == "val" and not is_answer(e)])
    model, completion = choose_completion_bands(model, dev_answers())
    kept = {k: meta[k] for k in ("data", "static_table") if k in meta}
    model.save(MODEL_PATH, **kept, report={**meta.get("report", {}), "dev_chosen": chosen,
                                           "completion_chosen": completion})


if __name__ == "__main__":
    main()
