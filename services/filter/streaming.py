"""Screening generated text in windows, per choice, buffered or asynchronous.

Buffered: text is held until a window of ``window_chars`` is screened (the first window is short,
``first_window_chars`` plus the overlap, so the first text reaches the caller early), together with the last
``overlap_chars`` already released (left context); only the part of the window that has
``overlap_chars`` of screened text after it is released, so a word cut at a window's end is seen
whole by the next window before any of it goes out. A first sentence that ends within
``first_window_chars`` (its end seen: the character after it has arrived) is screened and released
whole at once: no word is cut at a sentence's end, so it needs no look-ahead. The final event flushes
the rest.

Asynchronous: text is forwarded at once; windows are screened behind it and annotated with Azure's
``content_filter_offsets`` (character offsets into the choice's completion text, from 0;
``check_offset`` = how far the text is screened, never decreasing).

The state (held text, offsets, cut choices) lives in memory per request ID and is dropped on the
request's final event; it never goes to disk or logs.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from contracts.common import FilterResults, GeneratedToolCall
from contracts.gateway_replies import ReplyChoice
from contracts.generation_events import GeneratedChoice
from services.filter.policy import EffectivePolicy
from services.filter.ports import ScreenVerdict
from services.filter.results import merge_results

Screen = Callable[[str], Awaitable[ScreenVerdict]]
# A first sentence: from its first letter or digit (a leading line break is no sentence) to the first
# sentence end whose next character has arrived.
FIRST_SENTENCE = re.compile(r"[^\W_][^\n]*?(?:[.!?…](?=\s)|\n)")


@dataclass(frozen=True)
class Windowing:
    window_chars: int = 160
    overlap_chars: int = 40
    first_window_chars: int | None = None  # released by the first buffered window; None: as the others

    def __post_init__(self) -> None:
        if not 0 <= self.overlap_chars < self.window_chars // 2:
            raise ValueError("overlap_chars must be below half of window_chars")
        if self.first_window_chars is not None and not 0 < self.first_window_chars <= self.window_chars:
            raise ValueError("first_window_chars must be positive and at most window_chars")

    def size(self, screened: int) -> int:
        """Characters of the next buffered window: the first releases ``first_window_chars`` and
        screens the overlap after them; every later one is ``window_chars``."""
        if screened == 0 and self.first_window_chars is not None:
            return min(self.window_chars, self.first_window_chars + self.overlap_chars)
        return self.window_chars

    def first_sentence(self, pending: str) -> int | None:
        """Length of a first sentence that ended within ``first_window_chars`` (the whitespace after
        its end has arrived), if there is one."""
        if self.first_window_chars is None:
            return None
        sentence = FIRST_SENTENCE.search(pending[:self.first_window_chars + 1])
        return sentence.end() if sentence else None

    def next_window(self, window: ChoiceWindow, final: bool) -> tuple[int, int] | None:
        """(characters screened, characters released) of the next buffered window; None: not yet."""
        if not window.pending:
            return None
        if window.screened == 0 and not final and (sentence := self.first_sentence(window.pending)):
            return sentence, sentence
        size = self.size(window.screened)
        if final and len(window.pending) <= size:
            return len(window.pending), len(window.pending)
        if len(window.pending) < size:
            return None
        return size, size - self.overlap_chars

    def windows(self, window: ChoiceWindow, final: bool) -> Iterator[tuple[str, int]]:
        """The buffered texts to screen next, each with how many of its new characters it releases:
        the overlap's tail (left context) and the window's span. The window moves past one when the
        caller asks for the next; a caller that stops (a filtered window) leaves it where it was."""
        while (step := self.next_window(window, final)) is not None:
            size, keep = step
            span = window.pending[:size]
            yield window.tail + span, keep
            window.pending = window.pending[keep:]
            window.tail = (window.tail + span[:keep])[-self.overlap_chars:] if self.overlap_chars else ""
            window.screened += keep


@dataclass
class ChoiceWindow:
    pending: str = ""  # received and not yet released (buffered) or not yet screened (asynchronous)
    tail: str = ""  # the last overlap_chars screened: left context of the next window
    screened: int = 0  # characters screened so far (check_offset)
    stopped: bool = False


@dataclass
class RequestStream:
    mode: Literal["buffered", "asynchronous"]
    policy: EffectivePolicy
    attempt_id: str | None = None  # the engine run this stream follows; events of other runs are dropped
    choices: dict[int, ChoiceWindow] = field(default_factory=dict)
    replies: int = 0  # sequence of this request's next CompletionReady

    def window(self, index: int) -> ChoiceWindow:
        return self.choices.setdefault(index, ChoiceWindow())

    def next_sequence(self) -> int:
        self.replies += 1
        return self.replies - 1


@dataclass
class ChoiceOutcome:
    """What goes out for one choice: forwarded text first, then annotations (asynchronous only)."""

    text: ReplyChoice | None = None
    annotations: list[ReplyChoice] = field(default_factory=list)
    cut: bool = False


def _cut(index: int, results: FilterResults, offsets: dict[str, int] | None = None) -> ReplyChoice:
    return ReplyChoice(index=index, text="", finish_reason="content_filter", content_filter_results=results,
                       content_filter_offsets=offsets)


async def buffered(window: ChoiceWindow, choice: GeneratedChoice, final: bool, screen: Screen,
                   windowing: Windowing) -> ChoiceOutcome:
    window.pending += choice.text
    released, results = [], []
    for screened, keep in windowing.windows(window, final):
        verdict = await screen(screened)
        results.append(verdict.results)
        if verdict.blocked:
            window.stopped, window.pending = True, ""
            return ChoiceOutcome(text=_cut(choice.index, merge_results(results)), cut=True)
        # The window has not moved yet: its tail is this text's left context. Masking keeps lengths,
        # so offsets into the screened text hold for the redacted one too.
        start = len(window.tail)
        released.append((screened if verdict.redacted is None else verdict.redacted[0])[start:start + keep])
    if not released and not final:
        return ChoiceOutcome()
    return ChoiceOutcome(text=ReplyChoice(
        index=choice.index, text="".join(released), finish_reason=choice.finish_reason if final else None,
        content_filter_results=merge_results(results), logprobs=choice.logprobs))


async def asynchronous(window: ChoiceWindow, choice: GeneratedChoice, final: bool, screen: Screen,
                       windowing: Windowing) -> ChoiceOutcome:
    outcome = ChoiceOutcome()
    if choice.text or choice.logprobs:
        outcome.text = ReplyChoice(index=choice.index, text=choice.text, logprobs=choice.logprobs)
    window.pending += choice.text
    while window.pending and (final or len(window.pending) >= windowing.window_chars):
        span = window.pending[:windowing.window_chars]
        verdict = await screen(window.tail + span)
        start, end = window.screened, window.screened + len(span)
        offsets = {"check_offset": end, "start_offset": start, "end_offset": end}
        if verdict.blocked:  # this event's own text is still ours: hold it back
            window.stopped, window.pending = True, ""
            outcome.text, outcome.cut = None, True
            outcome.annotations.append(_cut(choice.index, verdict.results, offsets))
            return outcome
        outcome.annotations.append(ReplyChoice(index=choice.index, text="", content_filter_results=verdict.results,
                                               content_filter_offsets=offsets))
        window.pending = window.pending[len(span):]
        window.tail = (window.tail + span)[-windowing.overlap_chars:] if windowing.overlap_chars else ""
        window.screened = end
    if final:
        if outcome.annotations:
            last = outcome.annotations[-1]
            outcome.annotations[-1] = last.model_copy(update={"finish_reason": choice.finish_reason})
        else:
            outcome.annotations.append(ReplyChoice(index=choice.index, text="", finish_reason=choice.finish_reason))
    return outcome


async def with_tool_calls(outcome: ChoiceOutcome, choice: GeneratedChoice, screen: Screen) -> ChoiceOutcome:
    """A choice's function calls (tool_choice auto; whole, on its last event) join its last reply
    once their arguments are screened, each whole, as completion text (masked by a redacting
    policy). A filtered call ends the choice with content_filter, and no call goes out."""
    last = outcome.annotations[-1] if outcome.annotations else outcome.text
    if last is None or last.finish_reason is None:
        return outcome  # calls come only on a choice's last event; there is none to join
    calls: list[GeneratedToolCall] = []
    results = [last.content_filter_results]
    for call in choice.tool_calls:
        verdict = await screen(call.arguments)
        results.append(verdict.results)
        if verdict.blocked:
            calls, outcome.cut = [], True
            break
        calls.append(call if verdict.redacted is None else call.model_copy(update={"arguments": verdict.redacted[0]}))
    update: dict[str, object] = {"tool_calls": calls, "content_filter_results": merge_results(results)}
    if outcome.cut:
        update["finish_reason"] = "content_filter"
    replaced = last.model_copy(update=update)
    if outcome.annotations:
        outcome.annotations[-1] = replaced
    else:
        outcome.text = replaced
    return outcome
