"""Content-filter policy of a resource and its deployments, as the filter applies it.

A resource has one default policy, optional per-deployment policies that replace it (as an Azure
content-filter configuration attached to a deployment replaces the resource default), and its
custom blocklists. Thresholds follow Azure: a category is filtered when its severity reaches the
threshold (``low`` filters low, medium and high; ``high`` filters high only; ``off`` annotates only).
``safe`` is never filtered. Prompts also carry Residency's own ``harmful_request`` threshold (a
request for help with harm, of any hazard; default ``medium``), beside Azure's four categories.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Severity = Literal["safe", "low", "medium", "high"]
Threshold = Literal["off", "low", "medium", "high"]
DetectorMode = Literal["off", "annotate", "filter"]
PiiMode = Literal["off", "annotate", "redact", "filter"]

CATEGORIES = ("hate", "sexual", "violence", "self_harm")
SEVERITY_RANK = {"safe": 0, "low": 1, "medium": 2, "high": 3}
MAX_PATTERN_LENGTH = 200  # Python's re has no time-out: keep customer patterns short (see README)


def reaches(severity: Severity, threshold: Threshold) -> bool:
    """Whether a severity is filtered under a threshold."""
    if threshold == "off" or severity == "safe":
        return False
    return SEVERITY_RANK[severity] >= SEVERITY_RANK[threshold]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DirectionPolicy(_Strict):
    """What is screened, and what is filtered, in one direction (prompt or completion)."""

    hate: Threshold = Field("medium", description="Lowest hate severity that is filtered.")
    sexual: Threshold = Field("medium", description="Lowest sexual severity that is filtered.")
    violence: Threshold = Field("medium", description="Lowest violence severity that is filtered.")
    self_harm: Threshold = Field("medium", description="Lowest self-harm severity that is filtered.")
    profanity: DetectorMode = Field("off", description="Profanity word list.")
    pii: PiiMode = Field("off", description="PII patterns: annotate, redact (mask and pass), or filter.")
    blocklists: tuple[str, ...] = Field((), description="IDs of the resource's blocklists applied here.")

    def threshold(self, category: str) -> Threshold:
        return getattr(self, category)


class PromptPolicy(DirectionPolicy):
    harmful_request: Threshold = Field(
        "medium", description="Lowest severity of a harmful request (Residency's own; hazards.py) that is filtered.")
    jailbreak: DetectorMode = Field("filter", description="User prompt attacks (Prompt Shields).")
    indirect_attack: DetectorMode = Field(
        "filter", description="Instructions hidden in retrieved documents or tool output.")


class FilterPolicy(_Strict):
    """One content-filter configuration (Azure's 'content filter' attached to a deployment)."""

    prompt: PromptPolicy = Field(default_factory=PromptPolicy)
    completion: DirectionPolicy = Field(default_factory=DirectionPolicy)
    on_detector_error: Literal["fail_open", "fail_closed"] = Field(
        "fail_open", description="fail_open annotates content_filter_error and passes; fail_closed filters.")
    streaming: Literal["buffered", "asynchronous"] = Field(
        "buffered", description="buffered releases screened windows; asynchronous forwards and screens behind.")


class Blocklist(_Strict):
    """A custom blocklist: exact terms (case-insensitive, whole words) and regular expressions."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._~-]+$")
    terms: tuple[str, ...] = Field((), description="Exact terms, matched case-insensitively on word bounds.")
    patterns: tuple[str, ...] = Field((), description="Regular expressions (Python syntax, case-sensitive).")

    @field_validator("patterns")
    @classmethod
    def _patterns_compile(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            if len(pattern) > MAX_PATTERN_LENGTH:
                raise ValueError(f"a blocklist pattern is longer than {MAX_PATTERN_LENGTH} characters")
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"a blocklist pattern does not compile: {error}") from None
        return patterns


class ResourcePolicy(_Strict):
    """Everything the filter knows about one resource: default, per-deployment policies, blocklists."""

    resource_id: str
    default: FilterPolicy = Field(default_factory=FilterPolicy)
    deployments: dict[str, FilterPolicy] = Field(default_factory=dict)
    blocklists: tuple[Blocklist, ...] = ()

    def for_deployment(self, deployment: str) -> EffectivePolicy:
        policy = self.deployments.get(deployment, self.default)
        used = set(policy.prompt.blocklists) | set(policy.completion.blocklists)
        return EffectivePolicy(policy=policy, blocklists=tuple(b for b in self.blocklists if b.id in used))


class EffectivePolicy(_Strict):
    """The policy of one request: its configuration and the blocklists it names."""

    policy: FilterPolicy = Field(default_factory=FilterPolicy)
    blocklists: tuple[Blocklist, ...] = ()


DEFAULT_POLICY = EffectivePolicy()
