"""The layered screen: every detector the policy asks for, one verdict in Azure's shapes.

Layers are independent ``Detector``s (lexical, trained classifier, guard model); the screen merges
what they found (worst severity, any detection), applies the direction's thresholds and modes, and
turns a detector failure into the policy's fail-open (``error`` annotation, text passes) or
fail-closed (text filtered) outcome. It logs detector names and exception types, never text.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from contracts.common import FilterResults
from services.filter.policy import SEVERITY_RANK, DirectionPolicy, EffectivePolicy, PromptPolicy, Severity
from services.filter.ports import Detector, Findings, PiiSpan, ScreenedText, ScreenVerdict, TextKind
from services.filter.results import (
    ERROR,
    blocklist_results,
    category_results,
    detector_result,
    harmful_request_result,
    is_filtered,
    merge_results,
)
from services.filter.telemetry import count_verdict, tracer

log = logging.getLogger("residency.filter.screen")
MASK = "*"


def mask(text: str, spans: Sequence[PiiSpan]) -> str:
    """PII replaced character by character, so offsets into the text stay valid."""
    chars = list(text)
    for span in spans:
        chars[span.start:span.end] = MASK * (span.end - span.start)
    return "".join(chars)


def combine(findings: Sequence[Findings]) -> Findings:
    severities: dict[str, Severity] = {}
    detected: dict[str, bool] = {}
    blocklists: dict[str, bool] = {}
    spans: list[PiiSpan] = []
    hazard = None
    for found in findings:
        if found.hazard and SEVERITY_RANK[found.severities.get("harmful_request", "safe")] >= SEVERITY_RANK[
                severities.get("harmful_request", "safe")]:
            hazard = found.hazard
        for category, severity in found.severities.items():
            if SEVERITY_RANK[severity] >= SEVERITY_RANK[severities.get(category, "safe")]:
                severities[category] = severity
        for name, flag in found.detected.items():
            detected[name] = detected.get(name, False) or flag
        for list_id, flag in found.blocklists.items():
            blocklists[list_id] = blocklists.get(list_id, False) or flag
        spans.extend(found.pii_spans)
    return Findings(severities=severities, detected=detected, blocklists=blocklists, pii_spans=tuple(spans),
                    hazard=hazard)


class LayeredScreen:
    def __init__(self, detectors: Sequence[Detector]) -> None:
        self.detectors = tuple(detectors)

    def warm(self) -> None:
        """Load what detectors load on first use (the cascade's transformer), blocking: run at start,
        in a worker thread, so the first prompt that needs it does not wait seconds for it."""
        for detector in self.detectors:
            warm = getattr(detector, "warm", None)
            if warm is not None:
                warm()

    async def screen_prompt(self, texts: Sequence[ScreenedText], policy: EffectivePolicy) -> ScreenVerdict:
        direction = policy.policy.prompt
        outcomes = [await self._screen_text(t.text, t.kind, direction, policy) for t in texts]
        results = merge_results(r for r, _ in outcomes)
        verdict = self._verdict(results, [o[1] for o in outcomes], [t.text for t in texts], direction, policy)
        count_verdict("prompt", verdict.results, verdict.blocked)
        return verdict

    async def screen_completion(self, text: str, policy: EffectivePolicy) -> ScreenVerdict:
        direction = policy.policy.completion
        results, spans = await self._screen_text(text, "completion", direction, policy)
        verdict = self._verdict(results, [spans], [text], direction, policy)
        count_verdict("completion", verdict.results, verdict.blocked)
        return verdict

    async def _screen_text(self, text: str, kind: TextKind, direction: DirectionPolicy,
                           policy: EffectivePolicy) -> tuple[FilterResults, tuple[PiiSpan, ...]]:
        found, failed = [], []
        for detector in self.detectors:
            if not detector.wanted(kind, policy):
                continue
            with tracer.start_as_current_span(f"filter.{detector.name}", attributes={
                    "residency.filter.layer": detector.name, "residency.filter.text_kind": kind,
                    "residency.filter.text_chars": len(text)}) as span:
                try:
                    found.append(await detector.detect(text, kind, policy))
                except Exception as error:  # noqa: BLE001 - any detector failure is the policy's to judge
                    log.warning("detector %s failed (%s)", detector.name, type(error).__name__)
                    span.set_attribute("error.type", type(error).__name__)
                    failed.append(detector.name)
        findings = combine(found)
        results: dict[str, dict[str, object]] = dict(category_results(findings.severities, direction))
        if isinstance(direction, PromptPolicy):
            if kind == "prompt" and "harmful_request" in findings.severities:
                results["harmful_request"] = harmful_request_result(
                    findings.severities["harmful_request"], findings.hazard, direction.harmful_request)
            if kind in ("prompt", "instruction") and "jailbreak" in findings.detected:
                results["jailbreak"] = detector_result(findings.detected["jailbreak"], direction.jailbreak)
            if kind == "document" and "indirect_attack" in findings.detected:
                results["indirect_attack"] = detector_result(findings.detected["indirect_attack"],
                                                             direction.indirect_attack)
        if "profanity" in findings.detected:
            results["profanity"] = detector_result(findings.detected["profanity"], direction.profanity)
        if direction.pii != "off" and "pii" in findings.detected:
            results["pii"] = detector_result(findings.detected["pii"], direction.pii)
            if direction.pii == "redact" and findings.detected["pii"]:
                results["pii"]["redacted"] = True
        if direction.blocklists:
            results.update(blocklist_results(findings.blocklists, direction.blocklists))
        if failed:
            results["error"] = dict(ERROR)
        return results, findings.pii_spans

    @staticmethod
    def _verdict(results: FilterResults, spans: list[tuple[PiiSpan, ...]], texts: list[str],
                 direction: DirectionPolicy, policy: EffectivePolicy) -> ScreenVerdict:
        failed_closed = "error" in results and policy.policy.on_detector_error == "fail_closed"
        blocked = is_filtered(results) or failed_closed
        redacted = None
        if direction.pii == "redact" and any(spans):
            redacted = tuple(mask(text, s) for text, s in zip(texts, spans, strict=True))
        return ScreenVerdict(blocked=blocked, results=results, redacted=redacted)
