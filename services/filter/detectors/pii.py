"""PII patterns: e-mail, phone, payment card (Luhn), IBAN (mod 97), US SSN.

Checksums keep random digit runs from counting as cards or IBANs; a phone needs 9 to 15 digits.
Spans are returned (offsets only) so the screen can mask them when the policy redacts.
"""

from __future__ import annotations

import re

from services.filter.policy import EffectivePolicy
from services.filter.ports import Findings, PiiSpan, TextKind

EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}\b")
CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}(?![\w])")


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    compact = candidate.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def find_pii(text: str) -> list[PiiSpan]:
    spans: list[PiiSpan] = [PiiSpan(m.start(), m.end(), "email") for m in EMAIL.finditer(text)]
    for match in CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            spans.append(PiiSpan(match.start(), match.end(), "credit_card"))
    spans += [PiiSpan(m.start(), m.end(), "iban") for m in IBAN.finditer(text) if iban_valid(m.group())]
    spans += [PiiSpan(m.start(), m.end(), "ssn") for m in SSN.finditer(text)]
    taken = [(s.start, s.end) for s in spans]
    for match in PHONE.finditer(text):
        digit_count = sum(c.isdigit() for c in match.group())
        overlaps = any(match.start() < end and start < match.end() for start, end in taken)
        if 9 <= digit_count <= 15 and not overlaps:
            spans.append(PiiSpan(match.start(), match.end(), "phone"))
    return sorted(spans, key=lambda s: s.start)


class PiiDetector:
    name = "pii"

    def wanted(self, kind: TextKind, policy: EffectivePolicy) -> bool:
        direction = policy.policy.completion if kind == "completion" else policy.policy.prompt
        return direction.pii != "off"

    async def detect(self, text: str, kind: TextKind, policy: EffectivePolicy) -> Findings:
        spans = find_pii(text)
        return Findings(detected={"pii": bool(spans)}, pii_spans=tuple(spans))
