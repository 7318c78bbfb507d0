"""JSON Schema snapshots of every bus message, and the rule that keeps contract changes additive.

    python -m tests.contract.snapshots --write   (just contract-snapshots)

rewrites the snapshots; do it only for an additive change, and commit them with it. A change
is additive when every message valid under the old schema is still valid under the new one and
old consumers still find every field they read: no field removed, no field's type narrowed or
changed, no new required field, no enum value removed. One narrowing is not a change: an integer
declaring the int64 range (contracts.base.Int64). No integer outside it ever crossed the bus
(orjson, the bus codec, refuses or rounds it), so the bound only states what always held.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from contracts.base import INT64_MAX, INT64_MIN
from contracts.registry import TOPICS, TopicSpec

SNAPSHOT_DIR = Path(__file__).parent / "snapshots"
_IGNORED = {"description", "title", "examples"}


def snapshot_path(spec: TopicSpec, model: type[BaseModel]) -> Path:
    return SNAPSHOT_DIR / spec.module.__name__.rsplit(".", 1)[1] / f"{model.__name__}.json"


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(mode="serialization")


def _implied(key: str, value: Any) -> bool:
    return (key, value) in (("minimum", INT64_MIN), ("maximum", INT64_MAX))


def _strip(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip(v) for k, v in schema.items() if k not in _IGNORED and not _implied(k, v)}
    if isinstance(schema, list):
        return [_strip(v) for v in schema]
    return schema


def breaking_changes(old: dict[str, Any], new: dict[str, Any], where: str = "") -> list[str]:
    """What in ``new`` breaks producers or consumers written against ``old``."""
    problems: list[str] = []
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, old_schema in old_props.items():
        if name not in new_props:
            problems.append(f"{where}{name}: removed")
        elif _strip(old_schema) != _strip(new_props[name]):
            old_enum, new_enum = old_schema.get("enum"), new_props[name].get("enum")
            if old_enum and new_enum and set(old_enum) <= set(new_enum):
                continue  # a value added to an enum is additive
            problems.append(f"{where}{name}: type changed")
    for name in set(new.get("required", [])) - set(old.get("required", [])):
        problems.append(f"{where}{name}: newly required")
    if old.get("additionalProperties") is not False and new.get("additionalProperties") is False:
        problems.append(f"{where}: closed to additional properties")
    for name, old_def in old.get("$defs", {}).items():
        new_def = new.get("$defs", {}).get(name)
        if new_def is None:
            problems.append(f"$defs.{name}: removed")
        else:
            problems += breaking_changes(old_def, new_def, f"$defs.{name}.")
    return problems


def write_all() -> None:
    for spec in TOPICS:
        for model in spec.messages:
            path = snapshot_path(spec, model)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(schema_of(model), indent=2, sort_keys=True) + "\n")
            print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(__doc__)
    write_all()
