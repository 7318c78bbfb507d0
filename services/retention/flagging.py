"""Abuse flagging: signals per record from its filter results, patterns over time per rule.

A record's *signals* come from Azure-shaped filter results (``{"hate": {"filtered": true,
"severity": "high"}, "jailbreak": {"filtered": true, "detected": true}}``): ``high:<category>``
for a high severity, ``jailbreak`` / ``indirect_attack`` for a detected attack. A *rule* counts
records with matching signals in a sliding window, per end user (the request's ``user`` field)
or per resource; at its threshold it raises a flag naming every record in the window.

Everything here is pure: the handler fetches the history and stores what this returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from contracts.common import FilterResults
from services.retention.model import Flag, SignalRecord

ATTACK_DETECTORS = ("jailbreak", "indirect_attack")


def signals_of(filter_results: Iterable[FilterResults]) -> tuple[str, ...]:
    """The abuse signals of one record, from all its prompt and completion filter results."""
    found: set[str] = set()
    for results in filter_results:
        for name, result in results.items():
            if not isinstance(result, dict):
                continue
            if result.get("severity") == "high":
                found.add(f"high:{name}")
            if name in ATTACK_DETECTORS and result.get("detected") is True:
                found.add(name)
    return tuple(sorted(found))


@dataclass(frozen=True)
class Rule:
    """``threshold`` records whose signals start with ``signal_prefix`` within ``window``."""

    name: str
    signal_prefix: str
    scope: Literal["end_user", "resource"]
    threshold: int
    window: timedelta

    def matches(self, signals: Sequence[str]) -> bool:
        return any(s.startswith(self.signal_prefix) for s in signals)


DEFAULT_RULES = (
    Rule("repeated-high-severity", "high:", "end_user", threshold=3, window=timedelta(hours=1)),
    Rule("repeated-jailbreak", "jailbreak", "end_user", threshold=3, window=timedelta(hours=1)),
    Rule("signal-rate", "", "resource", threshold=20, window=timedelta(hours=24)),
)


def longest_window(rules: Sequence[Rule]) -> timedelta:
    return max((r.window for r in rules), default=timedelta(0))


def evaluate(rule: Rule, resource_id: str, trigger: SignalRecord, history: Iterable[SignalRecord],
             raised_at: datetime) -> Flag | None:
    """The flag ``rule`` raises when ``trigger`` arrives after ``history``, or None."""
    if not rule.matches(trigger.signals):
        return None
    if rule.scope == "end_user" and trigger.end_user is None:
        return None
    start = trigger.completed_at - rule.window
    members = {r.request_id: r for r in (*history, trigger)
               if start < r.completed_at <= trigger.completed_at and rule.matches(r.signals)
               and (rule.scope == "resource" or r.end_user == trigger.end_user)}
    if len(members) < rule.threshold:
        return None
    ordered = sorted(members.values(), key=lambda r: (r.completed_at, r.request_id))
    return Flag(flag_id=f"{resource_id}/{rule.name}/{trigger.request_id}", resource_id=resource_id,
                rule=rule.name, end_user=trigger.end_user if rule.scope == "end_user" else None,
                request_ids=tuple(r.request_id for r in ordered), window_start=start,
                window_end=trigger.completed_at, raised_at=raised_at,
                expires_at=max(r.expires_at for r in ordered))


def flags_for(rules: Sequence[Rule], resource_id: str, trigger: SignalRecord,
              history: Sequence[SignalRecord], raised_at: datetime) -> list[Flag]:
    flags = (evaluate(rule, resource_id, trigger, history, raised_at) for rule in rules)
    return [f for f in flags if f is not None]
