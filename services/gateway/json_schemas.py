"""The JSON Schema subset guided decoding enforces (structured outputs and forced tool calls).

A schema is checked at the edge, keyword by keyword, so a schema the engine's grammar compiler
(xgrammar, in vLLM) would reject or silently ignore is a 400 naming the keyword, before any work.
The subset is about OpenAI's for strict schemas: objects, arrays, strings, numbers, integers,
booleans, null, enum/const, anyOf, local $ref with $defs, and the bounds listed below.
"""

from __future__ import annotations

from typing import Any

from services.gateway.errors import InvalidRequest

ANNOTATIONS = frozenset({"title", "description", "default", "examples", "$comment", "$schema", "$id",
                         "deprecated", "readOnly", "writeOnly"})
STRUCTURE = frozenset({"type", "properties", "required", "additionalProperties", "items", "enum", "const",
                       "anyOf", "$ref", "$defs", "definitions"})
BOUNDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
                    "pattern", "format", "minItems", "maxItems"})
SUPPORTED = ANNOTATIONS | STRUCTURE | BOUNDS
TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})
FORMATS = frozenset({"email", "date", "time", "date-time", "duration", "uuid", "uri", "ipv4", "ipv6", "hostname"})


def _refuse(param: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"Invalid schema for '{param}': {message}", param=param, code="invalid_json_schema")


def _check_node(node: Any, where: str, param: str) -> list[tuple[Any, str]]:
    """Check one schema node; returns its sub-schemas with their locations."""
    if isinstance(node, bool):
        return []
    if not isinstance(node, dict):
        raise _refuse(param, f"{where or 'the schema'} must be an object.")
    for keyword in node:
        if keyword not in SUPPORTED:
            raise _refuse(param, f"the keyword '{str(keyword)[:64]}' at {where or 'the top'} is not supported "
                                 "(supported: " + ", ".join(sorted(STRUCTURE | BOUNDS)) + ").")
    types = node.get("type", [])
    for name in types if isinstance(types, list) else [types]:
        if not isinstance(name, str) or name not in TYPES:
            raise _refuse(param, f"'type' at {where or 'the top'} must be one of {', '.join(sorted(TYPES))}.")
    if "format" in node and (not isinstance(node["format"], str) or node["format"] not in FORMATS):
        raise _refuse(param, f"the keyword 'format' at {where or 'the top'} takes one of {', '.join(sorted(FORMATS))}.")
    if "pattern" in node and ("minLength" in node or "maxLength" in node):
        raise _refuse(param, f"the keyword 'pattern' at {where or 'the top'} cannot be combined with "
                             "minLength or maxLength.")
    required = node.get("required", [])
    if not isinstance(required, list) or not all(isinstance(name, str) for name in required):
        raise _refuse(param, f"'required' at {where or 'the top'} must be a list of property names.")
    ref = node.get("$ref")
    if ref is not None and not (isinstance(ref, str) and ref.startswith("#/")):
        raise _refuse(param, f"the keyword '$ref' at {where or 'the top'} must point inside the schema (#/...).")
    children: list[tuple[Any, str]] = []
    for keyword in ("properties", "$defs", "definitions"):
        members = node.get(keyword, {})
        if not isinstance(members, dict):
            raise _refuse(param, f"'{keyword}' at {where or 'the top'} must be an object.")
        children += [(child, f"{where}/{keyword}/{name}") for name, child in members.items()]
    for keyword in ("items", "additionalProperties"):
        if keyword in node:
            children.append((node[keyword], f"{where}/{keyword}"))
    if "anyOf" in node:
        if not isinstance(node["anyOf"], list) or not node["anyOf"]:
            raise _refuse(param, f"'anyOf' at {where or 'the top'} must be a non-empty list.")
        children += [(child, f"{where}/anyOf/{i}") for i, child in enumerate(node["anyOf"])]
    return children


def check_schema(schema: Any, param: str) -> None:
    """Raise InvalidRequest (400, naming the keyword and ``param``) for a schema outside the subset."""
    pending: list[tuple[Any, str]] = [(schema, "")]
    while pending:
        node, where = pending.pop()
        pending += _check_node(node, where, param)
