"""The trained layer: hashed character and word n-grams, one logistic head per category or detector.

The artefact (``services/filter/data/classifier.npz``, a few MB, built by ``just filter-train``;
services/filter/training/) holds the heads' weights, the IDF vector and each head's probability
bands. Hashing needs no vocabulary, so nothing else is loaded; scikit-learn's HashingVectorizer
(already a dependency of vLLM) turns text into features, numpy does the rest. Severity is a band of
the head's probability (safe < low < medium < high, bands fitted on a calibration split of the
training data): a confidence scale, not Azure's graded harm scale; see README.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer

from services.filter.policy import CATEGORIES, EffectivePolicy, Severity
from services.filter.ports import Findings, TextKind

MODEL_PATH = Path(__file__).resolve().parents[1] / "data" / "classifier.npz"
HEADS = (*CATEGORIES, "jailbreak", "indirect_attack")
SEVERITIES: tuple[Severity, ...] = ("safe", "low", "medium", "high")


class Featurizer:
    """Text -> L2-normalised, sublinear TF-IDF over hashed char (2-5, word-bounded) and word (1-2) n-grams."""

    def __init__(self, n_features: int, idf: np.ndarray | None = None) -> None:
        common = dict(n_features=n_features, alternate_sign=False, norm=None, lowercase=True, dtype=np.float32)
        self.chars = HashingVectorizer(analyzer="char_wb", ngram_range=(2, 5), **common)
        self.words = HashingVectorizer(analyzer="word", ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b", **common)
        self.n_features = n_features
        self.idf = idf

    def counts(self, texts: list[str]) -> sparse.csr_matrix:
        return (self.chars.transform(texts) + self.words.transform(texts)).tocsr()

    def transform(self, texts: list[str]) -> sparse.csr_matrix:
        matrix = self.counts(texts)
        matrix.data = 1.0 + np.log(matrix.data)
        if self.idf is not None:
            matrix = matrix.multiply(self.idf.reshape(1, -1)).tocsr()
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sparse.diags(1.0 / norms) @ matrix


@dataclass(frozen=True)
class TrainedModel:
    heads: tuple[str, ...]
    coef: np.ndarray  # (heads, features)
    intercept: np.ndarray  # (heads,)
    bands: np.ndarray  # (heads, 3): probabilities where low, medium, high begin
    featurizer: Featurizer

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> TrainedModel:
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"]))
            featurizer = Featurizer(meta["n_features"], stored["idf"].astype(np.float32))
            return cls(heads=tuple(meta["heads"]), coef=stored["coef"].astype(np.float32),
                       intercept=stored["intercept"].astype(np.float32),
                       bands=stored["bands"].astype(np.float32), featurizer=featurizer)

    def save(self, path: Path, **meta: object) -> None:
        if self.featurizer.idf is None:
            raise ValueError("the featurizer has no idf yet: fit it before saving the model")
        body = {"heads": list(self.heads), "n_features": self.featurizer.n_features, **meta}
        np.savez_compressed(path, coef=self.coef.astype(np.float16), intercept=self.intercept,
                            bands=self.bands, idf=self.featurizer.idf.astype(np.float16), meta=json.dumps(body))

    def probabilities(self, texts: list[str]) -> np.ndarray:
        scores = self.featurizer.transform(texts) @ self.coef.T + self.intercept
        return 1.0 / (1.0 + np.exp(-np.asarray(scores)))

    def severity(self, head: str, probability: float) -> Severity:
        return SEVERITIES[int(np.searchsorted(self.bands[self.heads.index(head)], probability, side="right"))]

    def detected(self, head: str, probability: float) -> bool:
        return bool(probability >= self.bands[self.heads.index(head)][1])


# The jailbreak head learnt from user prompts, where "You are ..." role-play is an attack pattern;
# ordinary system prompts ("You are a helpful assistant. Answer in one sentence.") score up to
# 0.89 on it, the attacks tried here 0.98-1.0. System and developer messages are held to this
# probability instead of the head's medium band (0.39).
INSTRUCTION_JAILBREAK_PROBABILITY = 0.95


class TrainedClassifier:
    """Categories for every text; jailbreak for user, system and developer messages; indirect
    attack for documents."""

    name = "classifier"

    def __init__(self, model: TrainedModel | None = None) -> None:
        self.model = model or TrainedModel.load()

    def wanted(self, kind: TextKind, policy: EffectivePolicy) -> bool:
        return True  # categories are always annotated

    async def detect(self, text: str, kind: TextKind, policy: EffectivePolicy) -> Findings:
        probabilities = dict(zip(self.model.heads, self.model.probabilities([text])[0].tolist(), strict=True))
        severities = {c: self.model.severity(c, probabilities[c]) for c in CATEGORIES}
        detected: dict[str, bool] = {}
        prompt = policy.policy.prompt
        if kind == "prompt" and prompt.jailbreak != "off":
            detected["jailbreak"] = self.model.detected("jailbreak", probabilities["jailbreak"])
        if kind == "instruction" and prompt.jailbreak != "off":
            detected["jailbreak"] = probabilities["jailbreak"] >= INSTRUCTION_JAILBREAK_PROBABILITY
        if kind == "document" and prompt.indirect_attack != "off":
            detected["indirect_attack"] = self.model.detected("indirect_attack", probabilities["indirect_attack"])
        return Findings(severities=severities, detected=detected)
