"""Query terms and document text for keyword search (no ``$text``: FerretDB v1 has none)."""

from __future__ import annotations

import re
from typing import Any

WORD = re.compile(r"[\w']+", re.UNICODE)
_STOPWORDS = frozenset(
    "a an and are as at be but by can could did do does for from had has have how i in is it its "
    "me my of on or our please should tell than that the their them then there these they this "
    "to was we were what when where which who why will with would you your about".split())
MAX_TERMS = 12
# Share of the query's terms a document must contain, by Azure's strictness 1..5.
MIN_COVERAGE = {1: 0.0, 2: 0.2, 3: 0.34, 4: 0.5, 5: 0.75}


def query_terms(text: str) -> list[str]:
    terms: list[str] = []
    for word in WORD.findall(text.lower()):
        if len(word) > 2 and word not in _STOPWORDS and word not in terms:
            terms.append(word)
    return terms[:MAX_TERMS]


def document_text(document: dict[str, Any], content_fields: list[str]) -> str:
    return "\n".join(str(document[f]) for f in content_fields if document.get(f) is not None)
