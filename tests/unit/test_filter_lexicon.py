"""The lexicon's matching skips joins no term can start, and finds exactly what trying every join finds."""

from __future__ import annotations

import random

from services.filter.detectors.lexical import _STRIP, Lexicon


def every_join(lexicon: Lexicon, text: str) -> list[tuple[str, int]]:
    """The reference: every run of up to ``longest`` tokens looked up."""
    tokens = [t for t in (t.strip(_STRIP) for t in text.lower().split()) if t]
    return [lexicon.entries[joined] for start in range(len(tokens))
            for size in range(1, min(lexicon.longest, len(tokens) - start) + 1)
            if (joined := " ".join(tokens[start:start + size])) in lexicon.entries]


def test_matches_equal_trying_every_join_on_the_shipped_lexicon():
    lexicon = Lexicon.load()
    multi = sorted(t for t in lexicon.entries if " " in t)
    single = sorted(t for t in lexicon.entries if " " not in t)
    assert multi and lexicon.longest >= 2
    rng = random.Random(7)
    filler = "the a quick brown fox, jumps over: lazy dogs! and then".split()
    texts = ["", "Hello there.", " ".join(multi[:40]), " ".join(t.upper() for t in multi[40:80])]
    for _ in range(200):
        words = rng.choices(filler, k=20) + rng.sample(multi, 3) + rng.sample(single, 3)
        words += [w.split(" ")[0] for w in rng.sample(multi, 3)]  # a term's first word alone
        rng.shuffle(words)
        texts.append(" ".join(f"({w})" if rng.random() < 0.1 else w for w in words))
    for text in texts:
        assert lexicon.hits(text) == every_join(lexicon, text), text
