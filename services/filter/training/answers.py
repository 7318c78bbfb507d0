"""Answer-style texts (completions) written for this project: what a small chat model writes back.

The other training material is almost all *requests*; the category heads also screen completions, in
streaming windows (``services/filter/streaming.py``). Here the same sensitive topics are *answered*:

- benign answers: informative, educational, neutral text on topics whose words a category head trips
  on (drug doses and overdose, the law on assault, security explained defensively, the history of
  wars and genocides, sexual health, mental-health support, discrimination explained or reported),
  hard negatives for the four category heads;
- harmful answers: a model complying (threats and attack plans, hateful text, explicit sexual acts,
  self-harm encouragement), positives for the head of their category.

Each topic is a title, an opening line, five points and a closing note; a ``style`` lays them out as a
small chat model does (numbered lists, "Here are some ...", bullets, plain paragraphs, disclaimers). The
topics are in ``answer_topics.py``. Topics go to train or dev by a hash of their name (no topic on both
sides) and train answers use only ``*_TRAIN`` styles, dev answers only ``*_DEV`` ones (no style on both
sides). ``stream_windows`` cuts an answer into the windows the buffered stream screens (first sentence
or short first window, then 160 characters with 40 of left context), which is what the heads see of a
streamed completion.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Iterator
from typing import NamedTuple

from services.filter.policy import CATEGORIES
from services.filter.settings import FilterSettings
from services.filter.streaming import ChoiceWindow, Windowing
from services.filter.training.answer_topics import BENIGN, HARMFUL, AnswerTopic

__all__ = ["BENIGN", "CATEGORIES", "HARMFUL", "Answer", "AnswerTopic", "answers", "dev_answers", "stream_windows",
           "texts"]


# Layouts a small chat model uses: an opening, the points as a list or in prose, a closing line. Benign and
# harmful answers share the layouts (so a layout alone says nothing); train and dev do not.
Style = Callable[[AnswerTopic, list[str]], str]


def _numbered(points: list[str], sep: str = ". ") -> str:
    return "\n".join(f"{i}{sep}{p}" for i, p in enumerate(points, 1))


def _bulleted(points: list[str], bullet: str = "-") -> str:
    return "\n".join(f"{bullet} {p}" for p in points)


STYLES_TRAIN: list[Style] = [
    lambda t, p: f"{t.opening}\n\n{_numbered(p)}\n\n{t.note}",
    lambda t, p: f"Here are some key points about {t.title}:\n\n{_bulleted(p)}\n\n{t.note}",
    lambda t, p: f"{t.opening} {' '.join(p)} {t.note}",
    lambda t, p: f"**{t.title[0].upper() + t.title[1:]}**\n\n{t.opening}\n\n{_bulleted(p, '*')}\n\nI hope this helps!",
    lambda t, p: f"Great question. {t.opening}\n\n{_numbered(p[:3])}\n\nAlso worth knowing: {' '.join(p[3:])}\n\n"
                 f"{t.note}",
]
STYLES_DEV: list[Style] = [
    lambda t, p: f"Certainly! Let me explain {t.title}.\n\n{_numbered(p, ') ')}\n\nPlease note: {t.note}",
    lambda t, p: f"{t.opening}\n\nKey facts:\n{_bulleted(p, '•')}\n\nIn summary, {t.note[0].lower() + t.note[1:]}",
    lambda t, p: f"Sure. {' '.join(p[:2])}\n\n{t.opening} {' '.join(p[2:])}\n\n{t.note} Let me know if you have "
                 "other questions.",
]


DEV_SHARE = 0.3


def _dev_topics() -> frozenset[str]:
    """Per category and label, the ``DEV_SHARE`` of topics (at least two) lowest by a hash of their name: a
    split by topic like the other written material's, balanced so that every head has dev answers of both kinds."""
    dev: set[str] = set()
    for topics in (BENIGN, HARMFUL):
        for category in CATEGORIES:
            names = sorted((t.name for t in topics if t.category == category), key=lambda n: zlib.crc32(n.encode()))
            dev.update(names[:max(2, round(DEV_SHARE * len(names)))])
    return frozenset(dev)


def _split_of(name: str) -> str:
    return "val" if name in _dev_topics() else "train"


def default_windowing() -> Windowing:
    """The filter's default stream windows (its settings' defaults), which the completion bands are chosen on."""
    fields = FilterSettings.model_fields
    return Windowing(fields["stream_window_chars"].default, fields["stream_overlap_chars"].default,
                     fields["stream_first_window_chars"].default)


def stream_windows(text: str, windowing: Windowing | None = None, chunk: int = 4) -> list[str]:
    """The texts the buffered stream screens for ``text`` arriving ``chunk`` characters at a time
    (``Windowing.windows``, as ``streaming.buffered`` cuts them; the service's default windows unless given)."""
    windowing = windowing or default_windowing()
    window, screened = ChoiceWindow(), []
    for start in range(0, len(text), chunk):
        window.pending += text[start:start + chunk]
        screened += [window_text for window_text, _ in windowing.windows(window, final=start + chunk >= len(text))]
    return screened


class Answer(NamedTuple):
    text: str
    topic: AnswerTopic
    harmful: bool
    group: str
    split: str
    style: int  # index into its split's styles (STYLES_TRAIN or STYLES_DEV)


def answers() -> Iterator[Answer]:
    """Every topic in every style of its side of the split; the points in a fixed shuffled order per style."""
    for harmful, topics in ((False, BENIGN), (True, HARMFUL)):
        for topic in topics:
            split = _split_of(topic.name)
            styles = STYLES_TRAIN if split == "train" else STYLES_DEV
            for s, style in enumerate(styles):
                points = list(topic.points)
                random.Random(f"{topic.name}-{s}").shuffle(points)
                yield Answer(style(topic, points), topic, harmful, f"ans-{topic.name}", split, s)


def dev_answers() -> list[Answer]:
    """The dev side's answers: what the completion bands are chosen on and the evaluation screens."""
    return [answer for answer in answers() if answer.split == "val"]


def texts() -> Iterator[tuple[str, AnswerTopic, bool, str, str]]:
    """(text, topic, harmful, group, split): every answer whole (a completion screened in one piece) and
    the windows a stream screens of it."""
    for answer in answers():
        yield answer.text, answer.topic, answer.harmful, answer.group, answer.split
        for window in stream_windows(answer.text):
            yield window, answer.topic, answer.harmful, answer.group, answer.split
