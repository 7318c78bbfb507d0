"""Train the classifier: ``just filter-train`` (after ``just filter-data``), a few minutes on 2 cores.

One logistic-regression head per category and detector over hashed n-gram TF-IDF features and the
static sentence embedding (scaled by EMBED_SCALE), trained only on examples that know the head;
contrastive pairs (contrastive.py) put benign texts on the same topics beside the harmful ones.
Each head's bands come from out-of-fold predictions (4 folds by group) on the training split:
``medium`` begins where the false-positive rate on the benign training texts falls to
BENIGN_FPR_TARGET (per head: 3 % for harmful requests, 1 % for the others, so that together they stay
under 5 %), ``low`` at half of it,
``high`` where precision reaches 0.9 (at least halfway to 1). A multinomial head over the embedding
names the hazard of a harmful request. The cascade (``train_cascade``): the packaged MiniLM tuned by a
low-rank adapter, with one logistic unit over its embedding, on every training text that knows
harmful_request (cascade.py). The training bands
are then replaced by thresholds chosen on the dev split (thresholds.py): medium per head for the
benign false-positive budget, and the fast threshold that sends a prompt to the cascade; then the four
category heads' completion bands, on the dev answers' stream windows (``choose_completion_bands``).
Writes services/filter/data/classifier.npz.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_curve

from services.filter.detectors.classifier import HEADS, MODEL_PATH, Cascade, Featurizer, TrainedModel
from services.filter.detectors.contextual import ContextualEmbedder
from services.filter.detectors.static_embedding import StaticEmbedder
from services.filter.hazards import HAZARDS
from services.filter.training.cascade import tune
from services.filter.training.dataset import Example, build, fold_of, is_answer

N_FEATURES = 2**17
FOLDS = 4
C = 8.0
EMBED_SCALE = 2.0
BENIGN_FPR_TARGET = {"harmful_request": 0.03}  # per head; the others 0.01 (sum of all heads' stays under 0.05)
CONTRASTIVE_WEIGHT = 3.0


def fit_idf(featurizer: Featurizer, texts: list[str]) -> np.ndarray:
    counts = featurizer.counts(texts)
    document_frequency = np.bincount(counts.indices, minlength=featurizer.n_features)
    return (np.log((1 + len(texts)) / (1 + document_frequency)) + 1.0).astype(np.float32)


def _head(features: sparse.csr_matrix, labels: np.ndarray, weights: np.ndarray) -> LogisticRegression:
    return LogisticRegression(C=C, max_iter=3000, solver="liblinear").fit(features, labels, sample_weight=weights)


def bands_from(probabilities: np.ndarray, labels: np.ndarray, benign: np.ndarray, target: float) -> np.ndarray:
    """low, medium, high: medium where the benign false-positive rate reaches its target (or at the best F1
    if that is higher)."""
    scores = np.sort(probabilities[benign])
    allowed = int(np.floor(target * len(scores)))
    medium = float(scores[len(scores) - allowed - 1]) + 1e-6 if len(scores) else 0.5
    precision, recall, thresholds = precision_recall_curve(labels, probabilities)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-9)
    medium = max(medium, float(thresholds[int(np.argmax(f1[:-1]))]))  # never below the best-F1 point
    precise = [t for p, t in zip(precision[:-1], thresholds, strict=True) if p >= 0.9 and t > medium]
    high = max(min(precise) if precise else 0.95, medium + (1 - medium) / 2)
    return np.array([max(medium / 2, 0.01), medium, min(high, 0.999)], dtype=np.float32)


def _hazard_head(embeddings: np.ndarray, training: list[Example]) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    rows = [i for i, e in enumerate(training) if "harmful_request" in e.positive and e.hazard in HAZARDS]
    names = tuple(sorted({training[i].hazard for i in rows}))
    labels = np.array([names.index(training[i].hazard) for i in rows])
    model = LogisticRegression(C=4.0, max_iter=3000).fit(embeddings[rows], labels)
    return names, model.coef_.astype(np.float32), model.intercept_.astype(np.float32)


def train_cascade(training: list[Example], rows: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> Cascade:
    """harmful_request's second opinion: the packaged MiniLM tuned by a low-rank adapter, and one logistic
    unit over its embedding (cascade.py), on every training text that knows the head. Its bands are set on
    the dev split (``choose_on_dev``)."""
    adapter, coef, intercept = tune([training[i].text for i in rows], labels, weights)
    print(f"[filter-train] cascade          {len(rows):5d} examples, adapter on {len(adapter)} layers")
    return Cascade(coef=coef, intercept=intercept, bands=np.array([0.25, 0.5, 0.9], dtype=np.float32),
                   embedder=ContextualEmbedder(adapter))


def train(examples: list[Example], embedder: StaticEmbedder) -> tuple[TrainedModel, dict[str, dict[str, object]]]:
    training = [e for e in examples if e.split == "train"]
    texts = [e.text for e in training]
    featurizer = Featurizer(N_FEATURES)
    featurizer.idf = fit_idf(featurizer, texts)
    embeddings = embedder.embed(texts)
    features = sparse.hstack([featurizer.transform(texts), sparse.csr_matrix(EMBED_SCALE * embeddings)]).tocsr()
    folds = np.array([fold_of(e.group, FOLDS) for e in training])
    coef, intercept, bands, report = [], [], [], {}
    for head in HEADS:
        rows = np.array([i for i, e in enumerate(training) if head in e.known])
        labels = np.array([head in training[i].positive for i in rows], dtype=int)
        benign = np.array([training[i].benign for i in rows])
        # Contrastive pairs weigh more: with the topic held fixed, only the form of the request tells them apart.
        weights = np.array([CONTRASTIVE_WEIGHT if training[i].source.startswith("written:contrastive") else 1.0
                            for i in rows])
        out_of_fold = np.zeros(len(rows))
        for fold in range(FOLDS):
            held = folds[rows] == fold
            model = _head(features[rows[~held]], labels[~held], weights[~held])
            out_of_fold[held] = model.predict_proba(features[rows[held]])[:, 1]
        bands.append(bands_from(out_of_fold, labels, benign, BENIGN_FPR_TARGET.get(head, 0.01)))
        final = _head(features[rows], labels, weights)
        coef.append(final.coef_[0].astype(np.float32))
        intercept.append(float(final.intercept_[0]))
        recall = float((out_of_fold[labels == 1] >= bands[-1][1]).mean())
        report[head] = {"examples": len(rows), "positives": int(labels.sum()), "bands": bands[-1].tolist(),
                        "out_of_fold_recall": round(recall, 3)}
        if head == "harmful_request":
            cascade = train_cascade(training, rows, labels, weights)
        print(f"[filter-train] {head:16s} {len(rows):5d} examples, {labels.sum():4d} positive, "
              f"bands low/medium/high {np.round(bands[-1], 3).tolist()}, out-of-fold recall at medium {recall:.3f}")
    hazards, hazard_coef, hazard_intercept = _hazard_head(embeddings, training)
    stacked = np.vstack(coef)
    model = TrainedModel(heads=HEADS, coef=stacked[:, :N_FEATURES], embed_coef=stacked[:, N_FEATURES:],
                         intercept=np.array(intercept, dtype=np.float32), bands=np.vstack(bands), hazards=hazards,
                         hazard_coef=hazard_coef, hazard_intercept=hazard_intercept, featurizer=featurizer,
                         embedder=embedder, embed_scale=EMBED_SCALE, cascade=cascade)
    return model, report


def data_fingerprint(examples: list[Example]) -> str:
    digest = hashlib.sha256()
    for example in sorted(examples, key=lambda e: (e.split, e.source, e.group, e.text)):
        digest.update(f"{example.split}|{sorted(example.positive)}|{example.text}".encode())
    return digest.hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args()
    examples = build()
    embedder = StaticEmbedder()
    model, report = train(examples, embedder)
    from services.filter.training.answers import dev_answers
    from services.filter.training.thresholds import choose_completion_bands, choose_on_dev  # builds on this module
    # Prompt bands on dev prompts only; completion bands on dev answers, window by window as the stream screens them.
    model, report["dev_chosen"] = choose_on_dev(model, [e for e in examples if e.split == "val" and not is_answer(e)])
    model, report["completion_chosen"] = choose_completion_bands(model, dev_answers())
    model.save(args.out, data=data_fingerprint(examples), report=report, static_table=embedder.table_digest())
    print(f"[filter-train] wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
