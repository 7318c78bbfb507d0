"""Every integer a bus message declares is int64 or narrower: the codec carries nothing wider, so
an unbounded integer is a value the gateway would accept and a consumer would dead-letter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from contracts.base import INT64_MAX, INT64_MIN
from contracts.registry import TOPICS
from tests.contract.snapshots import schema_of

MESSAGES = [model for spec in TOPICS for model in spec.messages]


def integers(schema: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(schema, dict):
        if schema.get("type") == "integer" and "const" not in schema and "enum" not in schema:
            yield where, schema
        for key, value in schema.items():
            yield from integers(value, f"{where}.{key}" if where else key)
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from integers(value, f"{where}[{index}]")


@pytest.mark.parametrize("model", MESSAGES, ids=[m.__name__ for m in MESSAGES])
def test_every_integer_is_bounded_to_int64(model):
    found = list(integers(schema_of(model)))
    unbounded = [where for where, schema in found
                 if not (schema.get("minimum", schema.get("exclusiveMinimum", INT64_MIN - 1)) >= INT64_MIN
                         and schema.get("maximum", schema.get("exclusiveMaximum", INT64_MAX + 1)) <= INT64_MAX)]
    assert unbounded == []


def test_an_unbounded_integer_is_found():
    from pydantic import BaseModel

    class Loose(BaseModel):
        seed: int | None = None

    assert [where for where, _ in integers(schema_of(Loose))] == ["properties.seed.anyOf[0]"]
