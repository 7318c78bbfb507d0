"""Train the classifier: ``just filter-train`` (after ``just filter-data``), about a minute on 2 cores.

One logistic-regression head per category and detector on hashed n-gram TF-IDF features, trained
only on examples that know the head. Each head's probability bands come from out-of-fold
predictions (4 folds by group) on the training split: ``medium`` begins at the threshold with the
best F1, ``low`` at half of it, ``high`` where precision reaches 0.9 (at least halfway to 1). The
validation split is never touched here. Writes services/filter/data/classifier.npz.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_curve

from services.filter.detectors.classifier import HEADS, MODEL_PATH, Featurizer, TrainedModel
from services.filter.training.dataset import Example, build, fold_of

N_FEATURES = 2**17
FOLDS = 4
C = 8.0


def fit_idf(featurizer: Featurizer, texts: list[str]) -> np.ndarray:
    counts = featurizer.counts(texts)
    document_frequency = np.bincount(counts.indices, minlength=featurizer.n_features)
    return (np.log((1 + len(texts)) / (1 + document_frequency)) + 1.0).astype(np.float32)


def _head(features, labels: np.ndarray) -> LogisticRegression:
    return LogisticRegression(C=C, max_iter=3000, solver="liblinear").fit(features, labels)


def bands_from(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    precision, recall, thresholds = precision_recall_curve(labels, probabilities)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-9)
    medium = float(thresholds[int(np.argmax(f1[:-1]))])
    precise = [t for p, t in zip(precision[:-1], thresholds, strict=True) if p >= 0.9]
    high = max(min(precise) if precise else 0.95, medium + (1 - medium) / 2)
    return np.array([max(medium / 2, 0.01), medium, min(high, 0.999)], dtype=np.float32)


def train(examples: list[Example]) -> tuple[TrainedModel, dict[str, dict[str, object]]]:
    training = [e for e in examples if e.split == "train"]
    texts = [e.text for e in training]
    featurizer = Featurizer(N_FEATURES)
    featurizer.idf = fit_idf(featurizer, texts)
    features = featurizer.transform(texts)
    folds = np.array([fold_of(e.group, FOLDS) for e in training])
    coef, intercept, bands, report = [], [], [], {}
    for head in HEADS:
        rows = np.array([i for i, e in enumerate(training) if head in e.known])
        labels = np.array([head in training[i].positive for i in rows], dtype=int)
        out_of_fold = np.zeros(len(rows))
        for fold in range(FOLDS):
            held = folds[rows] == fold
            model = _head(features[rows[~held]], labels[~held])
            out_of_fold[held] = model.predict_proba(features[rows[held]])[:, 1]
        bands.append(bands_from(out_of_fold, labels))
        final = _head(features[rows], labels)
        coef.append(final.coef_[0].astype(np.float32))
        intercept.append(float(final.intercept_[0]))
        report[head] = {"examples": len(rows), "positives": int(labels.sum()), "bands": bands[-1].tolist()}
        print(f"[filter-train] {head:16s} {len(rows):5d} examples, {labels.sum():4d} positive, "
              f"bands low/medium/high {np.round(bands[-1], 3).tolist()}")
    model = TrainedModel(heads=HEADS, coef=np.vstack(coef), intercept=np.array(intercept, dtype=np.float32),
                         bands=np.vstack(bands), featurizer=featurizer)
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
    model, report = train(examples)
    model.save(args.out, data=data_fingerprint(examples), report=report)
    print(f"[filter-train] wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
