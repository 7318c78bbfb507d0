"""The filter's spans and metrics: one span per layer and text, verdicts counted by category.

Labels are directions, categories and outcomes, never text; spans carry the layer's name, the
text's kind and length.
"""

from __future__ import annotations

from functools import cache

from opentelemetry import trace
from prometheus_client import Counter

from contracts.common import FilterResults

tracer = trace.get_tracer("residency.filter")

SCREENS = Counter("residency_filter_screens", "Texts screened, by direction and whether the answer was blocked.",
                  ["direction", "blocked"])
VERDICTS = Counter("residency_filter_verdicts", "Screening outcomes by category: filtered, annotated (a "
                   "severity above safe or a detection that did not filter) or safe.",
                   ["direction", "category", "outcome"])


def _outcome(result: dict[str, object]) -> str:
    if result.get("filtered"):
        return "filtered"
    if result.get("detected") or result.get("severity", "safe") != "safe":
        return "annotated"
    return "safe"


# Label children bound once (labels() takes a lock and builds a key on every call: a screen counts ~8).
# The label values are bounded (directions, categories, outcomes), so the caches are too.
@cache
def _screens(direction: str, blocked: bool) -> Counter:
    return SCREENS.labels(direction, str(blocked).lower())


@cache
def _verdicts(direction: str, category: str, outcome: str) -> Counter:
    return VERDICTS.labels(direction, category, outcome)


def count_verdict(direction: str, results: FilterResults, blocked: bool) -> None:
    _screens(direction, blocked).inc()
    for category, result in results.items():
        if category == "error":
            _verdicts(direction, "error", "error").inc()
        else:
            _verdicts(direction, category, _outcome(result)).inc()
