"""Content-filter policy of a resource and its deployments, as the filter applies it.

A resource has one default policy, optional per-deployment policies that replace it (as an Azure
content-filter configuration attached to a deployment replaces the resource default), and its
custom blocklists. Thresholds follow Azure: a category is filtered when its severity reaches the
threshold (``low`` filters low, medium and high; ``high`` filters high only; ``off`` annotates only).
``safe`` is never filtered. Prompts also carry Residency's own ``harmful_request`` threshold (a
request for help with harm, of any hazard; default ``medium``), beside Azure's four categories.
"""

from __future__ import annotations

import functools
from typing import Literal

import re2
from pydantic import BaseModel, ConfigDict, Field, field_validator

Severity = Literal["safe", "low", "medium", "high"]
Threshold = Literal["off", "low", "medium", "high"]
DetectorMode = Literal["off", "annotate", "filter"]
PiiMode = Literal["off", "annotate", "redact", "filter"]

CATEGORIES = ("hate", "sexual", "violence", "self_harm")
SEVERITY_RANK = {"safe": 0, "low": 1, "medium": 2, "high": 3}
MAX_PATTERN_LENGTH = 200
PATTERN_MAX_MEMORY = 1 << 20  # bytes RE2 may use for one compiled pattern


@functools.cache
def _re2_options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # RE2 would print the customer's pattern to stderr
    options.max_mem = PATTERN_MAX_MEMORY
    return options


def compile_pattern(pattern: str) -> re2._Regexp:
    """A customer's pattern on RE2: linear time in the text, whatever the pattern (no backtracking).

    Raises re2.error for what RE2 cannot take (look-around, back-references) or what would need
    more than PATTERN_MAX_MEMORY.
    """
    return re2.compile(pattern, _re2_options())


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
    patterns: tuple[str, ...] = Field((), description=(
        "Regular expressions in RE2 syntax (case-sensitive; no look-around or back-references)."))

    @field_validator("patterns")
    @classmethod
    def _patterns_compile(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            if len(pattern) > MAX_PATTERN_LENGTH:
                raise ValueError(f"a blocklist pattern is longer than {MAX_PATTERN_LENGTH} characters")
            try:
                compile_pattern(pattern)
            except re2.error as error:
                reason = error.args[0].decode(errors="replace") if error.args and isinstance(error.args[0], bytes) \
                    else str(error)
                raise ValueError(f"a blocklist pattern is not accepted by RE2: {reason}") from None
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
