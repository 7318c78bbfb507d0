"""Topic ``{region}.inference.generation-requests.v1``: screened prompts for the inference engine."""

from __future__ import annotations

from pydantic import Field

from contracts.base import Envelope, message_key
from contracts.common import ChatMessage, SamplingParams, ToolChoice, ToolDefinition

TOPIC = "{region}.inference.generation-requests.v1"
key = message_key


class GenerateCompletion(Envelope):
    """Generate a chat completion. Inference keeps nothing of it once the result is published."""

    model: str = Field(min_length=1, description="Model the deployment maps to, resolved by the gateway.")
    messages: list[ChatMessage] = Field(min_length=1, description="Screened messages. Customer content.")
    sampling: SamplingParams = Field(description="Validated sampling settings.")
    raw_prompt: bool = Field(False, description=(
        "Legacy completions: the one user message is the prompt itself, without the chat template."))
    stream: bool = Field(False, description="Publish chunks as they are generated, not only the final result.")
    adapter: str | None = Field(None, description="Fine-tuned LoRA adapter owned by the resource, if any.")
    tools: list[ToolDefinition] = Field(default_factory=list, max_length=128, description=(
        "Functions shown to the model: those it must call (the arguments' schema is in sampling.json_schema), "
        "or, with tool_choice auto, those it may call."))
    tool_choice: ToolChoice | None = Field(None, description=(
        "How the model calls the tools; auto is refused (400 unsupported_tool_choice) by an engine whose "
        "model has no tool parser. Unset with tools: required (what producers before this field meant)."))
