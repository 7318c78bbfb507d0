"""Chat messages as the model's chat template takes them, function calls and tools included.

The small CPU model's template knows only role and text, so function calls travel as text: an
assistant message's calls as the JSON array the model is held to when calls are required, a
tool result as a ``tool`` message, and the offered functions as a system instruction. A model
whose template renders tools natively would take them as structured fields instead; none of the
deployable models does (see README, "Tool calling").
"""

from __future__ import annotations

import json

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
