"""Chat messages as the model's chat template takes them, function calls and tools included.

Required calls (guided decoding) travel as text, whatever the template: an assistant message's
calls as the JSON array the model is held to when calls are required, a tool result as a ``tool``
message, and the offered functions as a system instruction (SmolLM2's own template knows only role
and text). With ``tool_choice: auto`` the model's tool template (settings ``tool_calling``) takes
them as structured fields instead (``native_messages``, ``tool_specs``), in the format its tool
parser reads (see README, "Tool calling").
"""

from __future__ import annotations

import json
from typing import Any

from contracts.common import ChatMessage, ToolDefinition

ROLES = {"developer": "system"}

TOOLS_INSTRUCTION = ("You call functions to answer. Functions you can call, with the JSON Schema of their "
                     "arguments:\n{functions}\nAnswer with the call as JSON.")


def _text(message: ChatMessage) -> str:
    if not message.tool_calls:
        return message.content
    calls = json.dumps([{"name": c.name, "arguments": _decoded(c.arguments)} for c in message.tool_calls],
                       ensure_ascii=False)
    return f"{message.content}\n{calls}" if message.content else calls


def _decoded(arguments: str) -> object:
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments  # the caller's history may hold arguments that are not JSON: kept as text


def tools_instruction(tools: list[ToolDefinition]) -> str:
    functions = "\n".join(json.dumps({"name": t.name, "description": t.description or "",
                                      "parameters": _decoded(t.parameters)}, ensure_ascii=False) for t in tools)
    return TOOLS_INSTRUCTION.format(functions=functions)


def template_messages(messages: list[ChatMessage], tools: list[ToolDefinition]) -> list[dict[str, str]]:
    """Role/content pairs for the chat template; offered functions join the first system message."""
    rendered = [{"role": ROLES.get(m.role, m.role), "content": _text(m)} for m in messages]
    if tools:
        instruction = tools_instruction(tools)
        if rendered[0]["role"] == "system":
            rendered[0] = {"role": "system", "content": f"{rendered[0]['content']}\n\n{instruction}"}
        else:
            rendered.insert(0, {"role": "system", "content": instruction})
    return rendered


def tool_specs(tools: list[ToolDefinition]) -> list[dict[str, Any]]:
    """The offered functions as chat templates take them (OpenAI's ``tools`` entries)."""
    return [{"type": "function", "function": {"name": t.name, "description": t.description or "",
                                              "parameters": _decoded(t.parameters)}} for t in tools]


def native_messages(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """Messages for a template that renders tools: calls and results as structured fields (the
    arguments decoded, as Hugging Face templates take them)."""
    rendered: list[dict[str, Any]] = []
    for m in messages:
        message: dict[str, Any] = {"role": ROLES.get(m.role, m.role), "content": m.content}
        if m.tool_calls:
            message["tool_calls"] = [{"id": c.id, "type": "function",
                                      "function": {"name": c.name, "arguments": _decoded(c.arguments)}}
                                     for c in m.tool_calls]
        if m.tool_call_id is not None:
            message["tool_call_id"] = m.tool_call_id
        rendered.append(message)
    return rendered
