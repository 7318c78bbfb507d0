"""Search queries from the conversation (Azure's "intent"), by a deterministic rewrite.

The platform's chat model here (SmolLM2-135M) is too weak to write queries reliably, so the
rewrite is rule-based: the last user turn is always a query; a follow-up (a short turn, or one
that points back with "it", "that", "they"...) also gets a query that carries the previous user
turn's key terms, so "how long does it take?" after "refund policy for shoes" searches for both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from contracts.common import ChatMessage
from services.retrieval.ranking import query_terms

DEFAULT_MAX_QUERIES = 3
MAX_QUERY_CHARS = 500
_POINTING_BACK = re.compile(r"\b(it|its|that|this|those|these|they|them|their|he|she|his|her|there|one)\b", re.I)
_SHORT_TERMS = 3


def search_queries(messages: Sequence[ChatMessage], max_queries: int | None) -> list[str]:
    users = [m.content.strip() for m in messages if m.role == "user" and m.content.strip()]
    if not users:
        return []
    last = users[-1][:MAX_QUERY_CHARS]
    queries = [last]
    follow_up = len(query_terms(last)) < _SHORT_TERMS or bool(_POINTING_BACK.search(last))
    for earlier in reversed(users[:-1]):
        if not follow_up:
            break
        carried = " ".join(dict.fromkeys(query_terms(earlier) + query_terms(last)))
        if carried and carried not in queries:
            queries.append(carried)
        follow_up = len(query_terms(earlier)) < _SHORT_TERMS
    return queries[: max_queries or DEFAULT_MAX_QUERIES]


def intent_of(queries: list[str]) -> str:
    """Azure returns the intent as a JSON list of the queries, in a string."""
    return json.dumps(queries)
