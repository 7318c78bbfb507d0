"""Chat fine-tuning JSONL, checked line by line as the file's chunks are opened (never whole).

Each non-blank line is one example: ``{"messages": [{"role", "content"}, ...]}`` with roles
``system``, ``user`` and ``assistant``, string contents, and at least one assistant message (an
assistant message may carry ``"weight": 0`` or ``1``, as OpenAI's format allows). A file needs at
least ``min_examples`` examples. Errors name their line; the first few are reported.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

ROLES = ("system", "user", "assistant")
REPORTED_ERRORS = 5


@dataclass(frozen=True)
class Limits:
    min_examples: int = 10
    max_examples: int = 50_000
    max_line_bytes: int = 256 * 1024
    max_messages: int = 256


@dataclass
class Verdict:
    examples: int = 0
    errors: list[str] = field(default_factory=list)
    error_count: int = 0

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def details(self) -> str | None:
        """status_details of a file that did not validate."""
        if self.ok:
            return None
        more = self.error_count - len(self.errors)
        return "; ".join(self.errors) + (f"; and {more} more error(s)" if more > 0 else "")

    def add(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < REPORTED_ERRORS:
            self.errors.append(f"line {line}: {message}" if line else message)


def example_problem(example: Any, limits: Limits) -> str | None:
    """What is wrong with one parsed example, or None."""
    if not isinstance(example, dict) or not isinstance(example.get("messages"), list):
        return "each line must be a JSON object with a 'messages' list"
    unknown = sorted(set(example) - {"messages"})
    if unknown:
        return f"unsupported field(s) {', '.join(unknown)}"
    messages = example["messages"]
    if not messages:
        return "'messages' is empty"
    if len(messages) > limits.max_messages:
        return f"more than {limits.max_messages} messages"
    for index, message in enumerate(messages):
        problem = message_problem(message)
        if problem:
            return f"messages[{index}]: {problem}"
    if not any(m["role"] == "assistant" for m in messages):
        return "no assistant message: an example needs at least one assistant turn to learn from"
    if messages[-1]["role"] != "assistant":
        return "the last message must be the assistant's"
    return None


def message_problem(message: Any) -> str | None:
    if not isinstance(message, dict):
        return "must be an object"
    role = message.get("role")
    if role not in ROLES:
        return f"role must be one of {', '.join(ROLES)}"
    unknown = sorted(set(message) - {"role", "content", "weight", "name"})
    if unknown:
        return f"unsupported field(s) {', '.join(unknown)}"
    content = message.get("content")
    if not isinstance(content, str) or not content.strip():
        return "content must be a non-empty string"
    if "weight" in message and (role != "assistant" or message["weight"] not in (0, 1)):
        return "weight is allowed only on assistant messages, as 0 or 1"
    return None


class LineSplitter:
    """Bytes in, numbered lines out; a line longer than the limit is reported, never buffered whole."""

    def __init__(self, max_line_bytes: int) -> None:
        self._max = max_line_bytes
        self._pending = bytearray()
        self._overlong = False
        self.number = 0

    def feed(self, chunk: bytes) -> Iterator[tuple[int, bytes | None]]:
        """(line number, line) pairs; the line is None when it was over the limit."""
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            yield self._line(chunk[start:end])
            start = end + 1
        self._append(chunk[start:])

    def close(self) -> Iterator[tuple[int, bytes | None]]:
        if self._pending or self._overlong:
            yield self._line(b"")

    def _append(self, piece: bytes) -> None:
        if self._overlong:
            return
        self._pending += piece
        if len(self._pending) > self._max:
            self._overlong = True
            self._pending.clear()

    def _line(self, tail: bytes) -> tuple[int, bytes | None]:
        self._append(tail)
        self.number += 1
        line = None if self._overlong else bytes(self._pending)
        self._pending.clear()
        self._overlong = False
        return self.number, line


async def validate_chat_jsonl(chunks: AsyncIterator[bytes], limits: Limits = Limits()) -> Verdict:
    verdict = Verdict()
    splitter = LineSplitter(limits.max_line_bytes)
    async for chunk in chunks:
        for number, line in splitter.feed(chunk):
            _check_line(verdict, number, line, limits)
    for number, line in splitter.close():
        _check_line(verdict, number, line, limits)
    if verdict.examples < limits.min_examples:
        verdict.add(0, f"the file has {verdict.examples} valid example(s); at least {limits.min_examples} are needed")
    return verdict


def _check_line(verdict: Verdict, number: int, line: bytes | None, limits: Limits) -> None:
    if line is None:
        verdict.add(number, f"longer than {limits.max_line_bytes} bytes")
        return
    if not line.strip():
        return  # blank lines (a trailing newline, say) are no examples
    try:
        example = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        verdict.add(number, "not UTF-8")
        return
    except json.JSONDecodeError as error:
        verdict.add(number, f"not valid JSON ({error.msg} at column {error.colno})")
        return
    problem = example_problem(example, limits)
    if problem:
        verdict.add(number, problem)
    elif verdict.examples >= limits.max_examples:
        verdict.add(number, f"more than {limits.max_examples} examples")
    else:
        verdict.examples += 1
