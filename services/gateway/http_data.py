"""Data-plane routes: Azure style (/openai/deployments/{d}/...) and OpenAI style (/v1/...)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from contracts.common import ChatMessage
from contracts.gateway_replies import RequestFailed
from services.gateway import openai_request as edge
from services.gateway.errors import AuthenticationFailed, InvalidRequest, NotFound
from services.gateway.handlers import (
    ChatCall,
    ChatOutcome,
    EmbeddingCall,
    GatewayPorts,
    chat_replies,
    complete_chat,
    embed,
    interaction_record,
)
from services.gateway.openai_response import ChunkWriter, chat_completion, embeddings_list, error_body, text_completion
from services.gateway.rate_limits import Admission, admit, estimate_tokens, settle
from services.gateway.resources import Resource, hash_key
from services.gateway.settings import GatewaySettings


def request_id_of(request: Request) -> str:
    return request.state.request_id


def new_request_id() -> str:
    return uuid.uuid4().hex


async def authenticate(request: Request, ports: GatewayPorts) -> Resource:
    """``api-key`` header or ``Authorization: Bearer``; only hashes are compared and stored."""
    key = request.headers.get("api-key")
    if key is None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        key = token.strip() if scheme.lower() == "bearer" else None
    if not key:
        raise AuthenticationFailed()
    presented = hash_key(key)
    resource = await ports.resources.find_by_key_hash(presented)
    if resource is None:
        raise AuthenticationFailed()
    return resource


def require_api_version(request: Request, settings: GatewaySettings) -> None:
    version = request.query_params.get("api-version")
    if not version:
        raise InvalidRequest("Missing required query parameter 'api-version'.", param="api-version",
                             code="MissingApiVersionParameter")
    if version not in settings.api_versions:
        raise InvalidRequest(f"Unsupported api-version '{version}'. Supported: {', '.join(settings.api_versions)}.",
                             param="api-version", code="UnsupportedApiVersion")


def add_operation(router: APIRouter, operation: str, handle: Any, settings: GatewaySettings) -> None:
    async def azure_style(deployment: str, request: Request) -> Any:
        require_api_version(request, settings)
        return await handle(request, deployment)

    async def openai_style(request: Request) -> Any:
        return await handle(request, None)

    name = operation.replace("/", "_")
    router.add_api_route(f"/openai/deployments/{{deployment}}/{operation}", azure_style, methods=["POST"],
                         name=f"azure_{name}")
    router.add_api_route(f"/v1/{operation}", openai_style, methods=["POST"], name=f"openai_{name}")


def data_router(ports: GatewayPorts, settings: GatewaySettings) -> APIRouter:
    router = APIRouter()

    async def caller(request: Request) -> tuple[Resource, dict[str, Any]]:
        resource = await authenticate(request, ports)  # before the body is read: no work for strangers
        body = await edge.read_json(request, settings.max_body_bytes)
        if resource.region != ports.region:
            raise NotFound(f"Resource '{resource.resource_id}' is served in region '{resource.region}', "
                           f"not '{ports.region}'; use that region's endpoint.", code="WrongRegion")
        return resource, body

    def deployment_of(resource: Resource, name: str | None) -> Any:
        if not name:
            raise InvalidRequest("You must provide a model parameter.", param="model")
        deployment = resource.deployment(name)
        if deployment is None:
            raise NotFound(f"The API deployment '{name}' does not exist for this resource.")
        return deployment

    async def chat(request: Request, deployment_name: str | None) -> Any:
        resource, body = await caller(request)
        parsed = edge.parse_chat_request(body, max_messages=settings.max_messages)
        deployment = deployment_of(resource, deployment_name or parsed.model)
        requested = edge.data_source(parsed)
        source = await ports.connections.resolve(resource, requested) if requested else None
        call = ChatCall(request_id=request_id_of(request), resource=resource, deployment=deployment,
                        messages=edge.internal_messages(parsed), sampling=edge.sampling_params(parsed),
                        stream=parsed.stream, end_user=parsed.user, data_source=source)
        return await answer(call, resource, deployment, parsed.stream_options)

    async def completions(request: Request, deployment_name: str | None) -> Any:
        resource, body = await caller(request)
        parsed, prompt = edge.parse_completions_request(body)
        deployment = deployment_of(resource, deployment_name or parsed.model)
        call = ChatCall(request_id=request_id_of(request), resource=resource, deployment=deployment,
                        messages=[ChatMessage(role="user", content=prompt)], sampling=edge.completions_sampling(parsed),
                        stream=parsed.stream, end_user=parsed.user, raw_prompt=True)
        return await answer(call, resource, deployment, parsed.stream_options)

    async def answer(call: ChatCall, resource: Resource, deployment: Any, stream_options: Any) -> Any:
        prompt_chars = sum(len(m.content) for m in call.messages)
        admission = await admit(ports.windows, resource, deployment, estimate_tokens(
            prompt_chars, max_tokens=call.sampling.max_tokens, n=call.sampling.n,
            context_length=deployment.context_length))
        if call.stream:
            include_usage = bool(stream_options and stream_options.include_usage)
            return await stream_chat(call, include_usage, admission)
        outcome = await complete_chat(call, ports)
        await settle(ports.windows, admission, outcome.usage.total_tokens if outcome.usage else 0)
        if outcome.error is not None:
            return JSONResponse(error_body(outcome.error), status_code=outcome.error.status, headers=admission.headers)
        body = text_completion(call, outcome) if call.raw_prompt else chat_completion(call, outcome)
        return JSONResponse(body, headers=admission.headers)

    async def stream_chat(call: ChatCall, include_usage: bool, admission: Admission) -> Any:
        replies = chat_replies(call, ports)
        outcome = ChatOutcome(model=call.deployment.model, n=call.sampling.n)
        first = await anext(replies)
        outcome.add(first)
        if isinstance(first, RequestFailed):  # nothing streamed yet: a real HTTP status
            await replies.aclose()
            await settle(ports.windows, admission, 0)
            await ports.bus.record_interaction(interaction_record(call, outcome, ports.replica_id))
            return JSONResponse(error_body(first.error), status_code=first.error.status, headers=admission.headers)
        writer = ChunkWriter(call, include_usage=include_usage)

        async def events() -> AsyncIterator[str]:
            try:
                for event in writer.events(first):
                    yield event
                async for reply in replies:
                    outcome.add(reply)
                    if isinstance(reply, RequestFailed):
                        yield writer.error(reply.error)
                        break
                    for event in writer.events(reply):
                        yield event
                yield writer.DONE
            finally:
                await replies.aclose()
                await settle(ports.windows, admission, outcome.usage.total_tokens if outcome.usage else 0)
                # The caller got HTTP 200 before any later error: record what it received.
                await ports.bus.record_interaction(
                    interaction_record(call, outcome, ports.replica_id, http_status=200))

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"cache-control": "no-cache", "x-accel-buffering": "no", **admission.headers})

    async def embeddings(request: Request, deployment_name: str | None) -> Any:
        resource, body = await caller(request)
        parsed, inputs = edge.parse_embeddings_request(body)
        deployment = deployment_of(resource, deployment_name or parsed.model)
        admission = await admit(ports.windows, resource, deployment, estimate_tokens(sum(map(len, inputs))))
        reply = await embed(EmbeddingCall(request_id=request_id_of(request), resource=resource, deployment=deployment,
                                          inputs=inputs, dimensions=parsed.dimensions, end_user=parsed.user), ports)
        if isinstance(reply, RequestFailed):
            await settle(ports.windows, admission, 0)
            return JSONResponse(error_body(reply.error), status_code=reply.error.status, headers=admission.headers)
        await settle(ports.windows, admission, reply.prompt_tokens)
        return JSONResponse(embeddings_list(reply, encoding_format=parsed.encoding_format), headers=admission.headers)

    # Each operation twice: Azure style (deployment in the path, api-version required) and OpenAI
    # style (deployment in the body's `model`).
    for operation, handle in (("embeddings", embeddings), ("completions", completions), ("chat/completions", chat)):
        add_operation(router, operation, handle, settings)

    @router.get("/v1/models")
    async def list_models(request: Request) -> Any:
        resource = await authenticate(request, ports)
        return {"object": "list", "data": [
            {"id": d.name, "object": "model", "created": int(resource.created_at.timestamp()),
             "owned_by": resource.resource_id} for d in resource.deployments]}

    @router.get("/openai/deployments")
    async def list_deployments(request: Request) -> Any:
        require_api_version(request, settings)
        resource = await authenticate(request, ports)
        return {"object": "list", "data": [
            {"id": d.name, "model": d.model, "object": "deployment", "status": "succeeded",
             "created_at": int(resource.created_at.timestamp())} for d in resource.deployments]}

    return router

