"""The tolerant HTTP edge: OpenAI chat request bodies, validated into the strict internal shapes.

Unknown fields are accepted and logged by name (never by value). Invalid values raise
InvalidRequest with ``param`` in OpenAI's notation (``messages.[0].content``).
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, ValidationError, model_validator

from contracts.common import (
    ChatMessage,
    ChoiceCount,
    Dimensions,
    MaxTokens,
    Metadata,
    Penalty,
    SamplingParams,
    Seed,
    Temperature,
    ToolCall,
    ToolDefinition,
    TopLogprobs,
    TopP,
)
from services.gateway.data_source_request import DataSource
from services.gateway.errors import InvalidRequest
from services.gateway.json_schemas import check_schema
from services.gateway.tolerant import Tolerant as _Tolerant
from services.gateway.tool_calls import ToolUse

log = logging.getLogger("residency.gateway.edge")


class ContentPart(_Tolerant):
    type: str
    text: str | None = None


FunctionName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class InputFunctionCall(_Tolerant):
    name: FunctionName
    arguments: str


class InputToolCall(_Tolerant):
    id: str = Field(min_length=1, max_length=128)
    type: Literal["function"] = "function"
    function: InputFunctionCall


class InputMessage(_Tolerant):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[InputToolCall] | None = Field(None, max_length=128)
    tool_call_id: str | None = Field(None, max_length=128)

    @model_validator(mode="after")
    def _tool_fields(self) -> InputMessage:
        if self.tool_calls and self.role != "assistant":
            raise ValueError("tool_calls: only assistant messages carry tool_calls")
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("tool_call_id: a tool message must name the call it answers")
        return self


class StreamOptions(_Tolerant):
    include_usage: bool = False


class JsonSchemaFormat(_Tolerant):
    name: FunctionName
    description: str | None = None
    schema_: dict[str, Any] = Field(default_factory=lambda: {"type": "object"}, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Tolerant):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_given(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("json_schema: a json_schema response_format needs its json_schema object")
        return self


class FunctionSpec(_Tolerant):
    name: FunctionName
    description: str | None = Field(None, max_length=8192)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None


class ToolSpec(_Tolerant):
    type: Literal["function"]
    function: FunctionSpec


class NamedFunction(_Tolerant):
    name: FunctionName


class NamedToolChoice(_Tolerant):
    type: Literal["function"]
    function: NamedFunction


TokenId = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,9}$")]
Bias = Annotated[float, Field(ge=-100, le=100)]


class _GenerationFields(_Tolerant):
    """Sampling and delivery fields that chat and legacy completions share.

    Their types are the bus contract's (contracts.common), so what the edge accepts, the filter
    and inference accept too; the edge only narrows (``logit_bias`` to OpenAI's ranges).
    """

    model: str | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    n: ChoiceCount = 1
    stop: str | list[str] | None = None
    seed: Seed | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    logit_bias: dict[TokenId, Bias] | None = Field(None, max_length=300)
    ignore_eos: bool = False  # vLLM's extension parameter, honoured as its server does
    user: str | None = Field(None, max_length=256)
    stream: bool = False
    stream_options: StreamOptions | None = None


class ChatRequestBody(_GenerationFields):
    messages: list[InputMessage] = Field(min_length=1)
    max_tokens: MaxTokens | None = None
    max_completion_tokens: MaxTokens | None = None
    response_format: ResponseFormat | None = None
    logprobs: bool | None = None
    top_logprobs: TopLogprobs | None = None
    data_sources: list[DataSource] | None = Field(None, min_length=1, max_length=1)
    store: bool | None = False
    metadata: Metadata | None = None
    tools: list[ToolSpec] | None = Field(None, max_length=128)
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> ChatRequestBody:
        if self.stop is not None and isinstance(self.stop, list) and len(self.stop) > 4:
            raise ValueError("stop: at most 4 sequences")
        if self.data_sources and self.logprobs:
            raise ValueError("data_sources: logprobs cannot be combined with data_sources")
        names = [t.function.name for t in self.tools or []]
        if len(set(names)) != len(names):
            raise ValueError("tools: function names must be unique")
        if self.tools and self.data_sources:
            raise ValueError("tools: tools cannot be combined with data_sources")
        if self.tool_choice not in (None, "none") and not self.tools:
            raise ValueError("tool_choice: tool_choice needs tools")
        if isinstance(self.tool_choice, NamedToolChoice) and self.tool_choice.function.name not in names:
            raise ValueError(f"tool_choice: the function '{self.tool_choice.function.name}' is not among the tools")
        return self


def validated(model: type[BaseModel], body: Any) -> Any:
    """``body`` as ``model``; the first problem is a 400 naming its field (``param``)."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        first = error.errors()[0]
        param = openai_param(first["loc"]) or None
        raise InvalidRequest(f"Invalid value for '{param}': {first['msg']}.", param=param) from None


def openai_param(location: tuple[Any, ...]) -> str:
    """('messages', 0, 'content') -> 'messages.[0].content', as OpenAI names params."""
    parts = [f"[{p}]" if isinstance(p, int) else str(p) for p in location
             if not (isinstance(p, str) and p in {"str", "list[ContentPart]"})
             and not str(p).startswith("function-after[")]
    return ".".join(parts)


def parse_chat_request(body: dict[str, Any], *, max_messages: int) -> ChatRequestBody:
    try:
        request = ChatRequestBody.model_validate(body)
    except ValidationError as error:
        first = error.errors()[0]
        message = first["msg"]
        param = openai_param(first["loc"]) or None
        if first["type"] == "value_error" and ":" in message:  # our model validators name their field
            name, _, message = message.removeprefix("Value error, ").partition(": ")
            param = f"{param}.{name}" if param else name
        raise InvalidRequest(f"Invalid value for '{param}': {message}.", param=param) from None
    if len(request.messages) > max_messages:
        raise InvalidRequest(f"Too many messages: {len(request.messages)} > {max_messages}.", param="messages")
    log_ignored_fields(request)
    return request


LOGGED_FIELD_NAMES = 10
LOGGED_NAME_CHARS = 40


def log_ignored_fields(request: BaseModel) -> None:
    """Names of ignored fields, never values: at most LOGGED_FIELD_NAMES, each cut to
    LOGGED_NAME_CHARS and escaped, so a caller can neither forge log lines (a newline in a
    name) nor flood the log (10,000 names), nor pass text through it beyond a short name."""
    unknown = sorted(request.model_extra or {})
    if not unknown:
        return
    shown = ", ".join(ascii(name[:LOGGED_NAME_CHARS]) for name in unknown[:LOGGED_FIELD_NAMES])
    more = f" and {len(unknown) - LOGGED_FIELD_NAMES} more" if len(unknown) > LOGGED_FIELD_NAMES else ""
    log.info("ignored %d request field(s): %s%s", len(unknown), shown, more)


def message_text(message: InputMessage, index: int) -> str:
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    texts = []
    for part_index, part in enumerate(message.content):
        if part.type != "text" or part.text is None:
            raise InvalidRequest(f"Content part type '{part.type}' is not supported by this deployment.",
                                 param=f"messages.[{index}].content.[{part_index}].type")
        texts.append(part.text)
    return "\n".join(texts)


def internal_messages(request: ChatRequestBody) -> list[ChatMessage]:
    return [ChatMessage(role=m.role, content=message_text(m, i), name=m.name, tool_call_id=m.tool_call_id,
                        tool_calls=[ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments)
                                    for c in m.tool_calls or []])
            for i, m in enumerate(request.messages)]


def tool_use(request: ChatRequestBody) -> ToolUse | None:
    """How the model calls the request's functions; None when it answers in text.

    ``auto`` (the default when tools are given) goes to inference, which refuses it (400) for a
    model without a tool parser: see ``services.gateway.tool_calls``. Only required calls are held
    to their parameters by guided decoding, so only theirs must be in the supported subset.
    """
    choice = request.tool_choice or ("auto" if request.tools else "none")
    if choice == "none" or not request.tools:
        return None
    for index, tool in enumerate(request.tools):
        param = f"tools.[{index}].function.parameters"
        if choice != "auto":
            check_schema(tool.function.parameters, param)
        if tool.function.parameters.get("type", "object") != "object":
            raise InvalidRequest(f"Invalid schema for '{param}': a function's parameters are an object.",
                                 param=param, code="invalid_json_schema")
    definitions = [ToolDefinition(name=t.function.name, description=t.function.description,
                                  parameters=json.dumps({"type": "object", **t.function.parameters}))
                   for t in request.tools]
    if isinstance(choice, NamedToolChoice):
        return ToolUse("function", definitions, function=choice.function.name)
    return ToolUse(choice, definitions, parallel=request.parallel_tool_calls)


def _sampling(request: _GenerationFields, **fields: Any) -> SamplingParams:
    stop = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
    fields.update(n=request.n, stop=stop, seed=request.seed, logit_bias=request.logit_bias or {},
                  ignore_eos=request.ignore_eos)
    for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        if getattr(request, name) is not None:
            fields[name] = getattr(request, name)
    return SamplingParams(**fields)


def sampling_params(request: ChatRequestBody, tools: ToolUse | None = None) -> SamplingParams:
    """Sampling settings; a required function call's schema takes the place of response_format."""
    response_format = request.response_format.type if request.response_format else "text"
    schema: dict[str, Any] | None = None
    if tools is not None and tools.guided:
        response_format, schema = "json_schema", tools.guided_schema()
    elif response_format == "json_schema" and request.response_format and request.response_format.json_schema:
        schema = request.response_format.json_schema.schema_
        check_schema(schema, "response_format.json_schema.schema")
    return _sampling(request, max_tokens=request.max_completion_tokens or request.max_tokens,
                     logprobs=bool(request.logprobs), top_logprobs=request.top_logprobs,
                     response_format=response_format, json_schema=json.dumps(schema) if schema is not None else None)


def _validate(model: type[BaseModel], body: dict[str, Any]) -> Any:
    """Validate a body; the first error becomes a 400 naming its top-level field."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        first = error.errors()[0]
        param = openai_param(first["loc"][:1]) or None
        raise InvalidRequest(f"Invalid value for '{param}': {first['msg']}.", param=param) from None


class EmbeddingsRequestBody(_Tolerant):
    model: str | None = None
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Dimensions | None = None
    user: str | None = Field(None, max_length=256)


def parse_embeddings_request(body: dict[str, Any], *,
                             max_inputs: int = 2048) -> tuple[EmbeddingsRequestBody, list[str]]:
    request = _validate(EmbeddingsRequestBody, body)
    log_ignored_fields(request)
    inputs = [request.input] if isinstance(request.input, str) else request.input
    if not inputs or not all(isinstance(text, str) for text in inputs):
        raise InvalidRequest("'input' must be a non-empty string or a list of strings; token arrays are not "
                             "supported by this deployment's tokenizer.", param="input")
    if len(inputs) > max_inputs:
        raise InvalidRequest(f"Too many inputs: {len(inputs)} > {max_inputs}.", param="input")
    if any(not text for text in inputs):
        raise InvalidRequest("'input' cannot contain empty strings.", param="input")
    return request, list(inputs)


class CompletionsRequestBody(_GenerationFields):
    """Legacy /completions. ``echo``, ``suffix`` and ``best_of`` > ``n`` are refused, not ignored."""

    prompt: str | list[str]
    max_tokens: MaxTokens | None = 16
    logprobs: int | None = Field(None, ge=0, le=5)
    echo: bool = False
    suffix: str | None = None
    best_of: ChoiceCount | None = None


def parse_completions_request(body: dict[str, Any]) -> tuple[CompletionsRequestBody, str]:
    request = _validate(CompletionsRequestBody, body)
    log_ignored_fields(request)
    prompts = [request.prompt] if isinstance(request.prompt, str) else request.prompt
    if len(prompts) != 1:
        raise InvalidRequest("Send one prompt per request; a list of several prompts is not supported.",
                             param="prompt")
    for name, unsupported in (("echo", request.echo), ("suffix", request.suffix is not None),
                              ("best_of", (request.best_of or request.n) != request.n)):
        if unsupported:
            raise InvalidRequest(f"'{name}' is not supported by this deployment.", param=name)
    if isinstance(request.stop, list) and len(request.stop) > 4:
        raise InvalidRequest("Invalid value for 'stop': at most 4 sequences.", param="stop")
    return request, prompts[0]


def completions_sampling(request: CompletionsRequestBody) -> SamplingParams:
    return _sampling(request, max_tokens=request.max_tokens, logprobs=request.logprobs is not None,
                     top_logprobs=request.logprobs)
