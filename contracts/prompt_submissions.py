"""Topic ``{region}.filter.prompt-submissions.v1``: a prompt waiting to be screened by the filter."""

from __future__ import annotations

from pydantic import Field

from contracts.base import Envelope, message_key
from contracts.common import ChatMessage, SamplingParams, ToolChoice, ToolDefinition

TOPIC = "{region}.filter.prompt-submissions.v1"
key = message_key


class PromptSubmitted(Envelope):
    """A chat request the gateway (or retrieval, after grounding) accepted; the filter screens it."""

    model: str = Field(min_length=1, description="Model the deployment maps to, resolved by the gateway.")
    messages: list[ChatMessage] = Field(min_length=1, description="Messages to screen and generate from.")
    sampling: SamplingParams = Field(description="Validated sampling settings.")
    raw_prompt: bool = Field(False, description=(
        "Legacy completions: the one user message is the prompt itself, without the chat template."))
    stream: bool = Field(False, description="Whether the caller asked for server-sent events.")
    end_user: str | None = Field(None, description="The request's `user` field, for abuse monitoring.")
    adapter: str | None = Field(None, description="Fine-tuned LoRA adapter of the deployment, owned by the resource.")
    documents: list[str] = Field(
        default_factory=list,
        description="Retrieved document texts inside the messages, screened for indirect attacks.",
    )
    answer_without_model: str | None = Field(None, max_length=1000, description=(
        "When set, the filter screens the prompt and answers this text instead of generating: an "
        "in-scope grounded request whose search found nothing relevant."))
    grounding_message: int | None = Field(None, ge=0, le=1024, description=(
        "Index of the system message retrieval wrote (the retrieved documents and how to cite them): "
        "screened as context, not as the caller's instructions; its documents are screened one by one."))
    tools: list[ToolDefinition] = Field(default_factory=list, max_length=128, description=(
        "Functions shown to the model: those it must call (the arguments' schema is in sampling.json_schema), "
        "or, with tool_choice auto, those it may call."))
    tool_choice: ToolChoice | None = Field(None, description=(
        "How the model calls the tools; auto is refused (400 unsupported_tool_choice) by an engine whose "
        "model has no tool parser. Unset with tools: required (what producers before this field meant)."))
