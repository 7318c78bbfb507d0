"""Keyword ranking of candidate documents (no $text or vector search: FerretDB v1 has neither)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

_WORD = re.compile(r"[\w']+", re.UNICODE)
_STOPWORDS = frozenset(
    "a an and are as at be but by can could did do does for from had has have how i in is it its "
    "me my of on or our please should tell than that the their them then there these they this "
    "to was we were what when where which who why will with would you your about".split())
MAX_TERMS = 12
# Share of the query's terms a document must contain, by Azure's strictness 1..5.
MIN_COVERAGE = {1: 0.0, 2: 0.2, 3: 0.34, 4: 0.5, 5: 0.75}


def query_terms(text: str) -> list[str]:
    terms: list[str] = []
    for word in _WORD.findall(text.lower()):
        if len(word) > 2 and word not in _STOPWORDS and word not in terms:
            terms.append(word)
    return terms[:MAX_TERMS]


@dataclass(frozen=True)
class RankedDocument:
    document: dict[str, Any]
    text: str
    score: float
    coverage: float


def document_text(document: dict[str, Any], content_fields: list[str]) -> str:
    return "\n".join(str(document[f]) for f in content_fields if document.get(f) is not None)


def rank(documents: list[dict[str, Any]], terms: list[str], content_fields: list[str],
         *, strictness: int, top_n: int) -> list[RankedDocument]:
    if not terms:
        return []
    ranked = []
    for document in documents:
        text = document_text(document, content_fields)
        words = _WORD.findall(text.lower())
        counts = {t: words.count(t) for t in terms}
        matched = [t for t, c in counts.items() if c]
        coverage = len(matched) / len(terms)
        if not matched or coverage < MIN_COVERAGE[strictness]:
            continue
        score = sum(1 + math.log(counts[t]) for t in matched) / math.sqrt(1 + len(words) / 100)
        ranked.append(RankedDocument(document, text, score, coverage))
    ranked.sort(key=lambda r: (r.coverage, r.score), reverse=True)
    return ranked[:top_n]
