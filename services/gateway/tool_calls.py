"""Function calls: required by the caller (``tool_choice`` ``required`` or a named function), or
left to the model (``auto``).

Required calls are held to their schemas by guided decoding, so any model calls functions, the
small CPU model included: a named function's arguments are decoded against its parameters schema;
``required`` decodes a JSON array of ``{"name", "arguments"}`` objects, one branch per offered
function. The text that comes back (screened by the filter like any completion) is turned into
OpenAI's ``tool_calls`` here. With ``auto`` the model decides: inference shows it the tools with
its chat template and finds the calls with its tool parser (a model without one refuses with a
400), the filter screens their arguments, and the calls arrive whole beside the text (see README,
"Tool calling").
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from contracts.common import GeneratedToolCall, ToolDefinition

MAX_PARALLEL_CALLS = 8  # a small model left unbounded may repeat a call until max_tokens


@dataclass(frozen=True)
class ToolUse:
    """How a request's model calls functions, and the functions it offers."""

    mode: Literal["required", "function", "auto"]
    tools: list[ToolDefinition]
    function: str | None = None  # the named function (mode "function")
    parallel: bool = True

    @property
    def shown(self) -> list[ToolDefinition]:
        """The functions shown to the model: the named one only, or all."""
        return [t for t in self.tools if self.function in (None, t.name)]

    @property
    def guided(self) -> bool:
        """Whether the calls are required (guided decoding), not left to the model (auto)."""
        return self.mode != "auto"

    def guided_schema(self) -> dict[str, Any]:
        """The JSON Schema the model's output is decoded against (required calls only)."""
        if self.mode == "function":
            return json.loads(self.shown[0].parameters)
        defs: dict[str, Any] = {}
        branches = []
        for tool in self.tools:
            parameters = _hoisted(json.loads(tool.parameters), tool.name, defs)
            branches.append({"type": "object", "properties": {"name": {"const": tool.name}, "arguments": parameters},
                             "required": ["name", "arguments"], "additionalProperties": False})
        schema: dict[str, Any] = {"type": "array", "items": {"anyOf": branches}, "minItems": 1,
                                  "maxItems": MAX_PARALLEL_CALLS if self.parallel else 1}
        if defs:
            schema["$defs"] = defs
        return schema


def _hoisted(parameters: dict[str, Any], tool: str, defs: dict[str, Any]) -> dict[str, Any]:
    """A function's parameters nested in the ``required`` array: its own $defs move to the top,
    renamed per function, and its local references follow them."""
    own = {**parameters.pop("$defs", {}), **parameters.pop("definitions", {})}

    def moved(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.split("/")[1:2] in (["$defs"], ["definitions"]):
                node = {**node, "$ref": f"#/$defs/{tool}.{ref.split('/', 2)[2]}"}
            return {key: moved(value) for key, value in node.items()}
        if isinstance(node, list):
            return [moved(value) for value in node]
        return node

    defs.update({f"{tool}.{name}": moved(schema) for name, schema in own.items()})
    return moved(parameters)


@dataclass(frozen=True)
class FunctionCall:
    id: str
    name: str
    arguments: str

    def body(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


def call_id(request_id: str, choice: int, position: int) -> str:
    """Stable per request, choice and position: a streamed and a whole answer name calls alike."""
    digest = hashlib.sha256(f"{request_id}/{choice}/{position}".encode()).hexdigest()
    return f"call_{digest[:24]}"


def generated_calls(calls: list[GeneratedToolCall], use: ToolUse, request_id: str,
                    choice: int) -> list[FunctionCall] | None:
    """The calls the model made (``auto``), with this request's call IDs; the first only when
    the caller asked for no parallel calls (as vLLM's server does)."""
    kept = calls if use.parallel else calls[:1]
    return [FunctionCall(call_id(request_id, choice, i), c.name, c.arguments) for i, c in enumerate(kept)] or None


def function_calls(text: str, use: ToolUse, request_id: str, choice: int) -> list[FunctionCall] | None:
    """The calls in a choice's text (required calls); None when the text is not a complete call
    (cut by max_tokens or the filter), so the caller gets the text as content instead."""
    try:
        decoded = json.loads(text)
    except ValueError:
        return None
    if use.mode == "function":
        if not isinstance(decoded, dict):
            return None
        return [FunctionCall(call_id(request_id, choice, 0), use.function or "", text)]
    if not isinstance(decoded, list) or not all(isinstance(c, dict) and "name" in c for c in decoded):
        return None
    return [FunctionCall(call_id(request_id, choice, i), str(c["name"]),
                         json.dumps(c.get("arguments", {}), ensure_ascii=False)) for i, c in enumerate(decoded)]
