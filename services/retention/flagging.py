"""Abuse flagging: signals per record from its filter results, patterns over time per rule.

A record's *signals* come from Azure-shaped filter results (``{"hate": {"filtered": true,
"severity": "high"}, "jailbreak": {"filtered": true, "detected": true}}``): ``high:<category>``
for a high severity, ``jailbreak`` / ``indirect_attack`` for a detected attack. A *rule* counts
records with a signal of its kind in a sliding window, per end user (the request's ``user``
field) or per resource; at its threshold it raises a flag naming the records of the pattern.

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


def kind_of(signal: str) -> str:
    """``high:hate`` is of kind ``high``; ``jailbreak`` of kind ``jailbreak``."""
    return signal.split(":", 1)[0]


@dataclass(frozen=True)
class Rule:
    """``threshold`` records with a signal of ``kind`` (any signal if None) within ``window``."""

    name: str
    kind: str | None
    scope: Literal["end_user", "resource"]
    threshold: int
    window: timedelta

    def matches(self, signals: Sequence[str]) -> bool:
        return bool(signals) if self.kind is None else any(kind_of(s) == self.kind for s in signals)

    def applies_to(self, record: SignalRecord) -> bool:
        return self.matches(record.signals) and (self.scope == "resource" or record.end_user is not None)

    @property
    def history_limit(self) -> int:
        """How many of the newest matching records the store returns: enough to see the threshold
        and the few records not flagged yet, never the whole (possibly huge) window."""
        return max(4 * self.threshold, 50)


DEFAULT_RULES = (
    Rule("repeated-high-severity", "high", "end_user", threshold=3, window=timedelta(hours=1)),
    Rule("repeated-jailbreak", "jailbreak", "end_user", threshold=3, window=timedelta(hours=1)),
    Rule("signal-rate", None, "resource", threshold=20, window=timedelta(hours=24)),
)


def evaluate(rule: Rule, resource_id: str, trigger: SignalRecord, history: Iterable[SignalRecord],
             raised_at: datetime) -> Flag | None:
    """The flag ``rule`` raises when ``trigger`` arrives after ``history``, or None.

    The pattern is every matching record in the window ending at the trigger; at the threshold
    the flag names the records of the pattern that this rule has not flagged yet (all of them the
    first time, then each new one), so a long pattern is flagged record by record, not re-listed.
    """
    if not rule.applies_to(trigger):
        return None
    start = trigger.completed_at - rule.window
    members = {r.request_id: r for r in (*history, trigger)
               if start < r.completed_at <= trigger.completed_at and rule.matches(r.signals)
               and (rule.scope == "resource" or r.end_user == trigger.end_user)}
    if len(members) < rule.threshold:
        return None
    new = sorted((r for r in members.values() if rule.name not in r.flagged_by),
                 key=lambda r: (r.completed_at, r.request_id))
    if not new:
        return None
    return Flag(flag_id=f"{resource_id}/{rule.name}/{trigger.request_id}", resource_id=resource_id,
                rule=rule.name, end_user=trigger.end_user if rule.scope == "end_user" else None,
                request_ids=tuple(r.request_id for r in new), window_start=start,
                window_end=trigger.completed_at, raised_at=raised_at, window_count=len(members),
                expires_at=max(r.expires_at for r in new))
