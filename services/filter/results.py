"""Azure's content_filter_results, built from what the detectors found and merged across texts.

Shapes (Azure OpenAI content filtering, 2024-10-21):
    categories   {"hate": {"filtered": false, "severity": "safe"}, ...}
    detectors    {"jailbreak": {"filtered": false, "detected": false}, ...}
    blocklists   {"custom_blocklists": {"filtered": true, "details": [{"id": "pizza", "filtered": true}]}}
    error        {"error": {"code": "content_filter_error", "message": "The contents are not filtered"}}
``pii`` ({"filtered", "detected"}, plus "redacted" when masked) is Residency's own, in the detector shape.
``harmful_request`` ({"filtered", "severity"}, plus "hazard" when not safe) is Residency's own, in the
category shape, on user prompts only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from contracts.common import FilterResults
from services.filter.policy import CATEGORIES, SEVERITY_RANK, DirectionPolicy, Severity, Threshold, reaches

DETECTORS = ("jailbreak", "indirect_attack", "profanity", "pii")
ERROR = {"code": "content_filter_error", "message": "The contents are not filtered"}


def category_results(severities: Mapping[str, Severity], direction: DirectionPolicy) -> FilterResults:
    return {c: {"filtered": reaches(severities[c], direction.threshold(c)), "severity": severities[c]}
            for c in CATEGORIES if c in severities}


def harmful_request_result(severity: Severity, hazard: str | None, threshold: Threshold) -> dict[str, object]:
    result: dict[str, object] = {"filtered": reaches(severity, threshold), "severity": severity}
    if severity != "safe" and hazard:
        result["hazard"] = hazard
    return result


def detector_result(detected: bool, mode: str) -> dict[str, object]:
    return {"filtered": detected and mode == "filter", "detected": detected}


def blocklist_results(matched: Mapping[str, bool], ids: Iterable[str]) -> FilterResults:
    details = [{"id": i, "filtered": bool(matched.get(i))} for i in ids]
    return {"custom_blocklists": {"filtered": any(d["filtered"] for d in details), "details": details}}


def is_filtered(results: FilterResults) -> bool:
    return any(bool(value.get("filtered")) for value in results.values())


def _worse(a: str, b: str) -> str:
    return a if SEVERITY_RANK[a] >= SEVERITY_RANK[b] else b


def merge_results(many: Iterable[FilterResults]) -> FilterResults:
    """One annotation for several texts or windows: worst severity, any detection, any blocklist hit."""
    merged: dict[str, dict[str, object]] = {}
    for results in many:
        for name, value in results.items():
            seen = merged.get(name)
            if seen is None:
                merged[name] = _copy(value)
            elif name == "error":
                continue
            elif name == "custom_blocklists":
                by_id = {d["id"]: dict(d) for d in seen["details"]}  # type: ignore[attr-defined]
                for detail in value["details"]:  # type: ignore[attr-defined]
                    entry = by_id.setdefault(detail["id"], dict(detail))
                    entry["filtered"] = bool(entry["filtered"] or detail["filtered"])
                seen["details"] = list(by_id.values())
                seen["filtered"] = bool(seen["filtered"] or value["filtered"])
            else:
                if "severity" in value and _worse(str(value["severity"]), str(seen["severity"])) != seen["severity"]:
                    seen.pop("hazard", None)  # the worse text names the hazard
                    if "hazard" in value:
                        seen["hazard"] = value["hazard"]
                for key, flag in value.items():
                    if key == "severity":
                        seen[key] = _worse(str(seen[key]), str(flag))
                    elif key != "hazard":
                        seen[key] = bool(seen.get(key) or flag)
    return merged


def _copy(value: dict[str, object]) -> dict[str, object]:
    copied = dict(value)
    if "details" in copied:
        copied["details"] = [dict(d) for d in copied["details"]]  # type: ignore[attr-defined]
    return copied
