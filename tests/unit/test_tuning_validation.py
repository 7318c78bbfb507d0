"""Chat fine-tuning JSONL is checked line by line, whatever the chunk boundaries, with line numbers."""

from __future__ import annotations

import json

from services.tuning.validation import Limits, validate_chat_jsonl
from tests.fixtures.fine_tuning import bad_jsonl, canary_jsonl


async def pieces(content: bytes, size: int):
    for start in range(0, len(content), size):
        yield content[start:start + size]


async def test_a_good_file_validates_in_any_chunking() -> None:
    for size in (1, 7, 64, 1 << 20):
        verdict = await validate_chat_jsonl(pieces(canary_jsonl(), size))
        assert verdict.ok and verdict.examples == 10 and verdict.details() is None


async def test_errors_name_their_lines() -> None:
    verdict = await validate_chat_jsonl(pieces(bad_jsonl(), 5))
    details = verdict.details()
    assert not verdict.ok and details is not None
    assert "line 2: no assistant message" in details
    assert "line 3: not valid JSON" in details
    assert "at least 10 are needed" in details


async def test_roles_contents_and_fields_are_checked() -> None:
    def line(messages, **extra) -> str:
        return json.dumps({"messages": messages, **extra})

    good = line([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}])
    bad = [
        line([{"role": "robot", "content": "q"}, {"role": "assistant", "content": "a"}]),
        line([{"role": "user", "content": ""}, {"role": "assistant", "content": "a"}]),
        line([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "weight": 2}]),
        line([{"role": "assistant", "content": "a"}, {"role": "user", "content": "q"}]),
        line([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], tools=[]),
        json.dumps([1, 2]),
    ]
    content = "\n".join([good] * 10 + bad).encode()
    verdict = await validate_chat_jsonl(pieces(content, 100), Limits())
    assert verdict.examples == 10 and verdict.error_count == len(bad)
    assert [e.split(":")[0] for e in verdict.errors] == [f"line {n}" for n in range(11, 16)]
    assert "role must be one of" in verdict.errors[0] and "content must be" in verdict.errors[1]
    assert "weight" in verdict.errors[2] and "last message" in verdict.errors[3]
    assert "unsupported field(s) tools" in verdict.errors[4]
    assert verdict.details() is not None and verdict.details().endswith("and 1 more error(s)")


async def test_long_lines_and_bad_bytes_are_refused_without_buffering_them() -> None:
    good = json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})
    content = ("\n".join([good] * 10) + "\n" + "x" * 5000 + "\n").encode() + b"\xff\xfe\n\n"
    verdict = await validate_chat_jsonl(pieces(content, 333), Limits(max_line_bytes=1024))
    assert verdict.errors == ["line 11: longer than 1024 bytes", "line 12: not UTF-8"]


async def test_example_limits() -> None:
    verdict = await validate_chat_jsonl(pieces(canary_jsonl(), 50), Limits(max_examples=4))
    assert verdict.examples == 4 and "line 5: more than 4 examples" in verdict.errors
    assert (await validate_chat_jsonl(pieces(b"", 1))).errors == [
        "the file has 0 valid example(s); at least 10 are needed"]
