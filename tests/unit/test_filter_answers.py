"""The answer-style training material (services/filter/training/answers.py): its split and its stream windows."""

from __future__ import annotations

from collections import defaultdict

from contracts.generation_events import GeneratedChoice
from services.filter.ports import ScreenVerdict
from services.filter.settings import FilterSettings
from services.filter.streaming import ChoiceWindow, Windowing, buffered
from services.filter.training import answers


def test_no_topic_and_no_style_is_on_both_sides_of_the_split():
    splits: dict[str, set[str]] = defaultdict(set)
    styles: dict[str, set[int]] = defaultdict(set)
    for answer in answers.answers():
        splits[answer.group].add(answer.split)
        styles[answer.split].add(answer.style)
    assert all(len(sides) == 1 for sides in splits.values())
    # Each side uses every style of its own list and only those; the two lists share no layout.
    assert styles == {"train": set(range(len(answers.STYLES_TRAIN))), "val": set(range(len(answers.STYLES_DEV)))}
    topic = answers.BENIGN[0]
    train = {style(topic, list(topic.points)) for style in answers.STYLES_TRAIN}
    dev = {style(topic, list(topic.points)) for style in answers.STYLES_DEV}
    assert len(train) == len(answers.STYLES_TRAIN) and len(dev) == len(answers.STYLES_DEV) and not train & dev


def test_default_windows_are_the_filter_settings_defaults():
    settings = FilterSettings(region="eu-west")
    assert answers.default_windowing() == Windowing(settings.stream_window_chars, settings.stream_overlap_chars,
                                                    settings.stream_first_window_chars)


def test_every_category_has_dev_answers_of_both_kinds():
    dev = {(a.topic.category, a.harmful) for a in answers.answers() if a.split == "val"}
    train = {(a.topic.category, a.harmful) for a in answers.answers() if a.split == "train"}
    expected = {(c, h) for c in answers.CATEGORIES for h in (False, True)}
    assert dev == expected and train == expected


def test_topic_names_are_unique():
    names = [t.name for t in (*answers.BENIGN, *answers.HARMFUL)]
    assert len(names) == len(set(names))


async def test_stream_windows_are_what_the_buffered_stream_screens():
    text = next(iter(answers.answers())).text
    windowing = Windowing(160, 40, 48)
    seen: list[str] = []

    async def screen(window: str) -> ScreenVerdict:
        seen.append(window)
        return ScreenVerdict(blocked=False, results={})

    state = ChoiceWindow()
    for start in range(0, len(text), 4):
        final = start + 4 >= len(text)
        choice = GeneratedChoice(index=0, text=text[start:start + 4], finish_reason="stop" if final else None)
        await buffered(state, choice, final, screen, windowing)
    assert seen == answers.stream_windows(text, windowing)
    assert seen[-1].endswith(text[-20:])
