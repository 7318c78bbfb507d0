"""Reading a request body as JSON at the edge: within the route's byte limit, and hostile shapes
(NaN, huge integers, deep nesting, invalid UTF-8) refused with a 400, never a 500."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import Request

from services.gateway.errors import InvalidRequest, PayloadTooLarge

MAX_JSON_DEPTH = 32  # OpenAI's bodies nest 6 deep; tool schemas a little more
MAX_INTEGER_DIGITS = 20  # int64 has 19 digits; Python's int() of 5,000 digits is a ValueError


class _Refused(ValueError):
    """A JSON value the edge refuses while parsing; its message is for the caller."""


def _integer(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise _Refused(f"an integer has more than {MAX_INTEGER_DIGITS} digits")
    return int(digits)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused("a number is out of range")
    return value


def _no_constant(name: str) -> None:
    raise _Refused(f"{name} is not JSON")


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a decoded body, level by level (no recursion), stopped past ``limit``."""
    level, depth = [value], 0
    while level and depth <= limit:
        depth += 1
        level = [child for node in level for child in (node.values() if isinstance(node, dict) else node)
                 if isinstance(child, dict | list)]
    return depth


def parse_json(raw: bytes) -> dict[str, Any]:
    """A request body as a JSON object; hostile shapes are a 400, never a 500.

    Refused: invalid JSON, NaN and Infinity (not JSON), numbers beyond float range, integers
    longer than ``MAX_INTEGER_DIGITS`` and nesting deeper than ``MAX_JSON_DEPTH``.
    """
    try:
        body = json.loads(raw, parse_int=_integer, parse_float=_finite, parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidRequest(f"The request body is not valid JSON: {error.__class__.__name__} at "
                             f"position {getattr(error, 'pos', 0)}.", code="invalid_json") from None
    except _Refused as error:
        raise InvalidRequest(f"The request body is refused: {error}.", code="invalid_json") from None
    except RecursionError:
        raise InvalidRequest(f"The request body nests deeper than {MAX_JSON_DEPTH} levels.",
                             code="invalid_json") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    if _depth(body, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise InvalidRequest(f"The request body nests deeper than {MAX_JSON_DEPTH} levels.", code="invalid_json")
    return body


async def read_json(request: Request, max_bytes: int) -> dict[str, Any]:
    """A request body of at most ``max_bytes`` (each route has its own), parsed by ``parse_json``.

    A declared length over the limit is refused before reading; a streamed body is refused as
    soon as it passes the limit, so a large body costs no more than the limit to refuse.
    """
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"The request body exceeds {max_bytes} bytes.")
    raw = bytearray()
    async for part in request.stream():
        raw += part
        if len(raw) > max_bytes:
            raise PayloadTooLarge(f"The request body exceeds {max_bytes} bytes.")
    return parse_json(bytes(raw))
