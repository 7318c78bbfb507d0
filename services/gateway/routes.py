"""Data-plane routes: Azure style (/openai/deployments/{d}/...) and OpenAI style (/v1/...).

Thin, as vLLM's entrypoints are: dependencies check the api-version, authenticate the key (before
any body is read: no work for strangers) and read the body within its limit; the route validates
it into a call and hands that to one serving object (``services.gateway.serving``), which owns
the call from admission to record.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from contracts.common import ChatMessage
from services.gateway import openai_request as edge
from services.gateway.data_source_request import data_source
from services.gateway.errors import AuthenticationFailed, InvalidRequest, NotFound
from services.gateway.handlers import ChatCall, EmbeddingCall, GatewayPorts
from services.gateway.json_body import read_json
from services.gateway.resources import Deployment, Resource, hash_key
from services.gateway.serving import ServingChat, ServingEmbeddings
from services.gateway.settings import GatewaySettings
from services.gateway.stored_completions import add_stored_completion_routes


def new_request_id() -> str:
    return uuid.uuid4().hex


def presented_key(request: Request) -> str:
    """``api-key`` header or ``Authorization: Bearer``; raises AuthenticationFailed without one."""
    key = request.headers.get("api-key")
    if key is None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        key = token.strip() if scheme.lower() == "bearer" else None
    if not key:
        raise AuthenticationFailed()
    return key


async def authenticate(request: Request, ports: GatewayPorts) -> Resource:
    """The resource of the presented key; only hashes are compared and stored."""
    resource = await ports.resources.find_by_key_hash(hash_key(presented_key(request)))
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


def deployment_of(resource: Resource, name: str | None) -> Deployment:
    if not name:
        raise InvalidRequest("You must provide a model parameter.", param="model")
    deployment = resource.deployment(name)
    if deployment is None:
        raise NotFound(f"The API deployment '{name}' does not exist for this resource.")
    return deployment


class Edge:
    """The dependencies every data-plane route shares (bound to this gateway's ports and settings)."""

    def __init__(self, ports: GatewayPorts, settings: GatewaySettings) -> None:
        self.ports = ports
        self.settings = settings

    async def api_version(self, request: Request) -> None:
        # async on purpose: FastAPI runs a plain-def dependency in a worker thread, a thread hop per request
        require_api_version(request, self.settings)

    async def caller(self, request: Request) -> Resource:
        resource = await authenticate(request, self.ports)
        if resource.region != self.ports.region:
            raise NotFound(f"Resource '{resource.resource_id}' is served in region '{resource.region}', "
                           f"not '{self.ports.region}'; use that region's endpoint.", code="WrongRegion")
        return resource

    async def body(self, request: Request) -> dict[str, Any]:
        return await read_json(request, self.settings.max_body_bytes)


Operation = Callable[[Request, Resource, dict[str, Any], str | None], Awaitable[Response]]


def add_operation(router: APIRouter, operation: str, handle: Operation, dependencies: Edge) -> None:
    """Each operation twice: Azure style (deployment in the path, api-version required) and OpenAI
    style (deployment in the body's ``model``). The api-version is checked first, then the key,
    then the body is read."""
    caller, body_of = Depends(dependencies.caller), Depends(dependencies.body)

    async def azure_style(deployment: str, request: Request, resource: Resource = caller,
                          body: dict[str, Any] = body_of) -> Response:
        return await handle(request, resource, body, deployment)

    async def openai_style(request: Request, resource: Resource = caller,
                           body: dict[str, Any] = body_of) -> Response:
        return await handle(request, resource, body, None)

    name = operation.replace("/", "_")
    router.add_api_route(f"/openai/deployments/{{deployment}}/{operation}", azure_style, methods=["POST"],
                         name=f"azure_{name}", dependencies=[Depends(dependencies.api_version)])
    router.add_api_route(f"/v1/{operation}", openai_style, methods=["POST"], name=f"openai_{name}")


def data_router(ports: GatewayPorts, settings: GatewaySettings) -> APIRouter:
    router = APIRouter()
    dependencies = Edge(ports, settings)
    caller = Depends(dependencies.caller)

    async def chat(request: Request, resource: Resource, body: dict[str, Any], name: str | None) -> Response:
        parsed = edge.parse_chat_request(body, max_messages=settings.max_messages)
        deployment = deployment_of(resource, name or parsed.model)
        requested = data_source(parsed.data_sources)
        source = await ports.connections.resolve(resource, requested) if requested else None
        tools = edge.tool_use(parsed)
        call = ChatCall(request_id=request.state.request_id, resource=resource, deployment=deployment,
                        messages=edge.internal_messages(parsed), sampling=edge.sampling_params(parsed, tools),
                        stream=parsed.stream, end_user=parsed.user, data_source=source, tools=tools,
                        store=bool(parsed.store), metadata=parsed.metadata or {})
        include_usage = bool(parsed.stream_options and parsed.stream_options.include_usage)
        serving = await ServingChat.admitted(call, ports, include_usage=include_usage)
        return await serving.respond()

    async def completions(request: Request, resource: Resource, body: dict[str, Any], name: str | None) -> Response:
        parsed, prompt = edge.parse_completions_request(body)
        deployment = deployment_of(resource, name or parsed.model)
        call = ChatCall(request_id=request.state.request_id, resource=resource, deployment=deployment,
                        messages=[ChatMessage(role="user", content=prompt)], sampling=edge.completions_sampling(parsed),
                        stream=parsed.stream, end_user=parsed.user, raw_prompt=True)
        include_usage = bool(parsed.stream_options and parsed.stream_options.include_usage)
        serving = await ServingChat.admitted(call, ports, include_usage=include_usage)
        return await serving.respond()

    async def embeddings(request: Request, resource: Resource, body: dict[str, Any], name: str | None) -> Response:
        parsed, inputs = edge.parse_embeddings_request(body)
        deployment = deployment_of(resource, name or parsed.model)
        call = EmbeddingCall(request_id=request.state.request_id, resource=resource, deployment=deployment,
                             inputs=inputs, dimensions=parsed.dimensions, end_user=parsed.user)
        serving = await ServingEmbeddings.admitted(call, ports, encoding_format=parsed.encoding_format)
        return await serving.respond()

    for operation, handle in (("embeddings", embeddings), ("completions", completions), ("chat/completions", chat)):
        add_operation(router, operation, handle, dependencies)
    add_stored_completion_routes(router, ports, dependencies)

    @router.get("/v1/models")
    async def list_models(resource: Resource = caller) -> Any:
        return {"object": "list", "data": [
            {"id": d.name, "object": "model", "created": int(resource.created_at.timestamp()),
             "owned_by": resource.resource_id} for d in resource.deployments]}

    @router.get("/openai/deployments", dependencies=[Depends(dependencies.api_version)])
    async def list_deployments(resource: Resource = caller) -> Any:
        return {"object": "list", "data": [
            {"id": d.name, "model": d.model, "object": "deployment", "status": "succeeded",
             "created_at": int(resource.created_at.timestamp())} for d in resource.deployments]}

    return router
