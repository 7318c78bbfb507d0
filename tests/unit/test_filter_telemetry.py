"""The filter's verdict counts: one screen, one count per category's outcome (children bound once)."""

from __future__ import annotations

from prometheus_client import REGISTRY

from services.filter.telemetry import count_verdict


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_screen_counts_once_and_each_category_by_its_outcome() -> None:
    def snapshot() -> list[float]:
        return [_value("residency_filter_screens_total", direction="completion", blocked="true"),
                _value("residency_filter_verdicts_total", direction="completion", category="hate", outcome="filtered"),
                _value("residency_filter_verdicts_total", direction="completion", category="sexual",
                       outcome="annotated"),
                _value("residency_filter_verdicts_total", direction="completion", category="violence", outcome="safe"),
                _value("residency_filter_verdicts_total", direction="completion", category="error", outcome="error")]

    before = snapshot()
    results = {"hate": {"filtered": True, "severity": "high"}, "sexual": {"filtered": False, "severity": "low"},
               "violence": {"filtered": False, "severity": "safe"}, "error": {"message": "layer failed"}}
    for _ in range(2):  # the second time through the bound children
        count_verdict("completion", results, blocked=True)  # type: ignore[arg-type]

    assert [after - was for after, was in zip(snapshot(), before, strict=True)] == [2, 2, 2, 2, 2]
