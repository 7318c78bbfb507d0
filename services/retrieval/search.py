"""Scoring and selecting retrieved documents: BM25 keyword scores, vector similarity, and their fusion.

Keyword search reads candidates with a case-insensitive ``$regex`` per term (FerretDB has no
``$text``) and scores them with BM25 (k1 1.2, b 0.75; document frequencies over the candidates
of the request, since the collection's own statistics are not available). Vector search asks the
in-memory index. Hybrid ranking fuses the ranks of both (reciprocal rank fusion, k 60) over all
search queries. ``strictness`` (1-5) keeps a document whose keyword coverage of a query or
whose vector similarity reaches that level's threshold; ``top_n_documents`` are cited, in order.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from services.retrieval.ranking import MIN_COVERAGE, WORD, document_text

K1, B = 1.2, 0.75
RRF_K = 60
# Cosine similarity a vector hit needs at each strictness (all-MiniLM-L6-v2 scale).
MIN_SIMILARITY = {1: 0.0, 2: 0.2, 3: 0.3, 4: 0.4, 5: 0.5}


@dataclass
class Retrieved:
    """One document found by any query or method, with everything known about why."""

    key: str
    document: dict[str, Any]
    text: str
    coverage: float = 0.0
    bm25: float = 0.0
    similarity: float | None = None
    fused: float = 0.0
    queries: list[str] = field(default_factory=list)
    filter_reason: Literal["score", "rerank"] | None = None

    def found_by(self, query: str) -> None:
        if query not in self.queries:
            self.queries.append(query)


def key_of(document: dict[str, Any]) -> str:
    return str(document.get("_id"))


def bm25_scores(texts: dict[str, str], terms: list[str]) -> dict[str, tuple[float, float]]:
    """Per document key: (BM25 score, share of ``terms`` it contains)."""
    words = {key: WORD.findall(text.lower()) for key, text in texts.items()}
    if not terms or not words:
        return dict.fromkeys(texts, (0.0, 0.0))
    counts = {key: Counter(w) for key, w in words.items()}
    average = sum(len(w) for w in words.values()) / len(words) or 1.0
    n = len(words)
    idf = {t: math.log(1 + (n - df + 0.5) / (df + 0.5))
           for t in terms for df in [sum(1 for c in counts.values() if c[t])]}
    scores = {}
    for key, count in counts.items():
        length = len(words[key])
        score = sum(idf[t] * count[t] * (K1 + 1) / (count[t] + K1 * (1 - B + B * length / average))
                    for t in terms if count[t])
        scores[key] = (score, sum(1 for t in terms if count[t]) / len(terms))
    return scores


class Pool:
    """Everything retrieved for one request, fused across queries and methods."""

    def __init__(self, content_fields: list[str]) -> None:
        self._fields = content_fields
        self.documents: dict[str, Retrieved] = {}

    def _entry(self, document: dict[str, Any]) -> Retrieved:
        key = key_of(document)
        if key not in self.documents:
            self.documents[key] = Retrieved(key, document, document_text(document, self._fields))
        return self.documents[key]

    def add_keyword(self, query: str, terms: list[str], documents: list[dict[str, Any]]) -> None:
        entries = [self._entry(d) for d in documents]
        scores = bm25_scores({e.key: e.text for e in entries}, terms)
        ranked = sorted((e for e in entries if scores[e.key][1] > 0), key=lambda e: -scores[e.key][0])
        for rank, entry in enumerate(ranked):
            bm25, coverage = scores[entry.key]
            entry.bm25, entry.coverage = max(entry.bm25, bm25), max(entry.coverage, coverage)
            entry.fused += 1 / (RRF_K + rank + 1)
            entry.found_by(query)

    def add_vector(self, query: str, hits: list[tuple[Any, float]], documents: dict[str, dict[str, Any]]) -> None:
        for rank, (doc_id, similarity) in enumerate(hits):
            document = documents.get(str(doc_id))
            if document is None:
                continue  # deleted since the index was built
            entry = self._entry(document)
            entry.similarity = max(entry.similarity or -1.0, similarity)
            entry.fused += 1 / (RRF_K + rank + 1)
            entry.found_by(query)

    def select(self, *, strictness: int, top_n: int, hybrid: bool) -> tuple[list[Retrieved], list[Retrieved]]:
        """(cited, in order; every retrieved document with its filter reason)."""
        def passes(entry: Retrieved) -> bool:
            if entry.coverage > 0 and entry.coverage >= MIN_COVERAGE[strictness]:
                return True
            return entry.similarity is not None and entry.similarity >= MIN_SIMILARITY[strictness]

        def order(entry: Retrieved) -> tuple[float, ...]:
            return (entry.fused,) if hybrid else (entry.coverage, entry.bm25)

        everything = sorted(self.documents.values(), key=order, reverse=True)
        kept = [e for e in everything if passes(e)]
        for entry in everything:
            entry.filter_reason = None if entry in kept[:top_n] else "score" if entry not in kept else "rerank"
        return kept[:top_n], everything
