"""``just eval filter``: the screen as the service runs it, on the validation split only.

Prints precision, recall and F1 per category (positive = severity at or above ``medium``, the
default threshold) and per detector (jailbreak on user prompts, indirect attack on documents, PII
on a generated set), the false-positive rate on the benign validation texts (any filtered result
under the default policy with profanity and PII annotated), and p50/p99 latency per text for the
fast lexical layers alone and for the whole screen.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections import Counter, defaultdict

from services.filter.detectors.classifier import TrainedClassifier
from services.filter.detectors.lexical import BlocklistDetector, LexiconDetector
from services.filter.detectors.pii import PiiDetector, find_pii
from services.filter.policy import (
    SEVERITY_RANK,
    Blocklist,
    DirectionPolicy,
    EffectivePolicy,
    FilterPolicy,
    PromptPolicy,
)
from services.filter.ports import ScreenedText
from services.filter.screening import LayeredScreen
from services.filter.training.dataset import CATEGORIES, Example, build

POLICY = EffectivePolicy(
    policy=FilterPolicy(prompt=PromptPolicy(profanity="annotate", pii="annotate", blocklists=("demo",)),
                        completion=DirectionPolicy(profanity="annotate", pii="annotate")),
    blocklists=(Blocklist(id="demo", terms=("project bluebird", "acme secret"), patterns=(r"\bTKT-\d{6}\b",)),))


def prf(predicted: list[bool], actual: list[bool]) -> tuple[float, float, float, int]:
    tp = sum(p and a for p, a in zip(predicted, actual, strict=True))
    fp = sum(p and not a for p, a in zip(predicted, actual, strict=True))
    fn = sum(a and not p for p, a in zip(predicted, actual, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, sum(actual)


def pii_cases(seed: int = 13) -> list[tuple[str, set[str]]]:
    """Generated texts with and without PII (valid and checksum-failing numbers, dates, prices)."""
    rng = random.Random(seed)
    cards = ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005", "6011111111111117"]
    bad_cards = ["4111 1111 1111 1112", "1234 5678 9012 3456"]
    ibans = ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "FR1420041010050500013M02606"]
    cases: list[tuple[str, set[str]]] = []
    for _ in range(60):
        name = rng.choice(["Ana", "Bo", "Chen", "Dara"])
        cases += [
            (f"Contact {name} at {name.lower()}.{rng.randint(1, 99)}@example.org about the invoice.", {"email"}),
            (f"Call me on +44 20 7946 {rng.randint(1000, 9999)} after five.", {"phone"}),
            (f"My card is {rng.choice(cards)}, expiry 09/27.", {"credit_card"}),
            (f"Transfer to IBAN {rng.choice(ibans)} please.", {"iban"}),
            (f"SSN {rng.randint(100, 665)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)} on the form.", {"ssn"}),
            (f"Order {rng.randint(10**7, 10**8)} ships on 2025-{rng.randint(1, 12):02d}-14 for $1,299.00.", set()),
            (f"The reference {rng.choice(bad_cards)} failed validation.", set()),
            (f"Meet in room {rng.randint(100, 999)} at 10:30, version 3.14.{rng.randint(0, 9)}.", set()),
        ]
    return cases


async def _screen(screen: LayeredScreen, text: str, kind: str) -> dict:
    return (await screen.screen_prompt([ScreenedText(text, kind)], POLICY)).results  # type: ignore[arg-type]


def _filtered_at_medium(results: dict, category: str) -> bool:
    value = results.get(category) or {}
    return bool(value) and SEVERITY_RANK[value["severity"]] >= SEVERITY_RANK["medium"]


async def evaluate(examples: list[Example]) -> None:
    validation = [e for e in examples if e.split == "val"]
    screen = LayeredScreen([BlocklistDetector(), LexiconDetector(), PiiDetector(), TrainedClassifier()])
    lexical = LayeredScreen([BlocklistDetector(), LexiconDetector(), PiiDetector()])
    print(f"validation split: {len(validation)} texts (never trained on); "
          f"training split: {sum(e.split == 'train' for e in examples)}\n")
    print(f"{'category / detector':22s} {'precision':>9s} {'recall':>7s} {'F1':>6s} {'positives':>9s} {'texts':>6s}")
    as_prompt = {id(e): await _screen(screen, e.text, "prompt") for e in validation}
    for category in CATEGORIES:
        rows = [e for e in validation if category in e.known]
        scores = prf([_filtered_at_medium(as_prompt[id(e)], category) for e in rows],
                     [category in e.positive for e in rows])
        print(f"{category:22s} {scores[0]:9.3f} {scores[1]:7.3f} {scores[2]:6.3f} {scores[3]:9d} {len(rows):6d}")
    rows = [e for e in validation if "jailbreak" in e.known]
    scores = prf([bool(as_prompt[id(e)].get("jailbreak", {}).get("detected")) for e in rows],
                 [("jailbreak" in e.positive) for e in rows])
    print(f"{'jailbreak':22s} {scores[0]:9.3f} {scores[1]:7.3f} {scores[2]:6.3f} {scores[3]:9d} {len(rows):6d}")
    rows = [e for e in validation if "indirect_attack" in e.known]
    as_document = [await _screen(screen, e.text, "document") for e in rows]
    scores = prf([bool(r.get("indirect_attack", {}).get("detected")) for r in as_document],
                 [("indirect_attack" in e.positive) for e in rows])
    print(f"{'indirect_attack':22s} {scores[0]:9.3f} {scores[1]:7.3f} {scores[2]:6.3f} {scores[3]:9d} {len(rows):6d}")
    cases = pii_cases()
    for kind in ("email", "phone", "credit_card", "iban", "ssn"):
        found = [{s.kind for s in find_pii(text)} for text, _ in cases]
        scores = prf([kind in f for f in found], [kind in expected for _, expected in cases])
        print(f"{'pii:' + kind:22s} {scores[0]:9.3f} {scores[1]:7.3f} {scores[2]:6.3f} {scores[3]:9d} {len(cases):6d}")

    benign = [e for e in validation if e.benign]
    flagged = [e for e in benign if any(v.get("filtered") for v in as_prompt[id(e)].values())]
    print(f"\nbenign validation texts: {len(benign)}; filtered under the default policy: {len(flagged)} "
          f"(false-positive rate {len(flagged) / len(benign):.3%})")
    by_source, by_reason = Counter(e.source for e in benign), Counter[str]()
    flagged_by_source: dict[str, int] = defaultdict(int)
    for e in flagged:
        flagged_by_source[e.source] += 1
        by_reason.update(k for k, v in as_prompt[id(e)].items() if v.get("filtered"))
    for source, total in sorted(by_source.items()):
        print(f"  {source:40s} {flagged_by_source[source]:4d} / {total:4d}")
    print(f"  filtered by: {dict(by_reason)}")
    for name, detector_key in (("profanity", "profanity"), ("pii", "pii")):
        hits = sum(bool(as_prompt[id(e)].get(detector_key, {}).get("detected")) for e in benign)
        print(f"  {name} detected (annotate only) on {hits} benign texts ({hits / len(benign):.2%})")

    texts = [e.text for e in validation]
    for label, which in (("fast lexical layers", lexical), ("whole screen", screen)):
        timings = []
        for text in texts:
            began = time.perf_counter()
            await which.screen_prompt([ScreenedText(text, "prompt")], POLICY)
            timings.append((time.perf_counter() - began) * 1000)
        timings.sort()
        p99 = timings[int(len(timings) * 0.99) - 1]
        print(f"\nlatency per text, {label}: p50 {statistics.median(timings):.3f} ms, p99 {p99:.3f} ms "
              f"({len(texts)} texts, median {statistics.median(len(t) for t in texts):.0f} characters)")


def main() -> None:
    asyncio.run(evaluate(build()))


if __name__ == "__main__":
    main()
