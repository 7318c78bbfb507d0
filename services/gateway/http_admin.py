"""Control-plane routes (/admin/...): resources, deployments, content logging, keys, data connections.

A separate router with its own credential (RESIDENCY_GATEWAY_ADMIN_KEY, at least 32 characters,
sent as Bearer), served only on the admin listener (ADMIN_HOST:ADMIN_PORT), with its own body
limit (ADMIN_MAX_BODY_BYTES); keys are returned once, when made, and stored only as hashes.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from contracts.base import Region, ResourceId, utc_now
from services.gateway.data_connections import Conflict, ConnectionCreate
from services.gateway.errors import AuthenticationFailed, InvalidRequest, NotFound
from services.gateway.handlers import GatewayPorts
from services.gateway.json_body import read_json
from services.gateway.openai_request import validated
from services.gateway.resources import KEY_SLOTS, Deployment, KeySlot, Limits, Resource, hash_key, new_key
from services.gateway.settings import GatewaySettings
from services.gateway.tuning_admin import check_fine_tuned_adapters


class ResourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource_id: ResourceId | None = None
    region: Region
    content_logging: bool = True
    deployments: list[Deployment] = Field(default_factory=list)
    limits: Limits | None = Field(None, description="Omitted: the gateway's DEFAULT_LIMITS; {} for none.")


class ResourceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content_logging: bool | None = None
    deployments: list[Deployment] | None = None
    limits: Limits | None = None


def resource_view(resource: Resource) -> dict[str, Any]:
    return {**resource.model_dump(mode="json"), "capabilities": resource.capabilities}


def admin_router(ports: GatewayPorts, settings: GatewaySettings) -> APIRouter:
    router = APIRouter(prefix="/admin")

    def require_admin(request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        expected = settings.admin_key.get_secret_value().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
            raise AuthenticationFailed()

    async def existing(resource_id: str) -> Resource:
        resource = await ports.resources.get(resource_id)
        if resource is None:
            raise NotFound(f"Resource '{resource_id}' does not exist.", code="ResourceNotFound")
        return resource

    @router.post("/resources", status_code=201)
    async def create_resource(request: Request) -> Any:
        require_admin(request)
        spec = validated(ResourceCreate, await read_json(request, settings.admin_max_body_bytes))
        resource = Resource(resource_id=spec.resource_id or f"res-{secrets.token_hex(6)}", region=spec.region,
                            content_logging=spec.content_logging, deployments=spec.deployments,
                            limits=spec.limits or settings.default_limits, created_at=utc_now())
        await check_fine_tuned_adapters(request, resource)
        keys = {slot: new_key() for slot in KEY_SLOTS}
        if not await ports.resources.create(resource, {s: hash_key(k) for s, k in keys.items()}):
            raise Conflict(f"Resource '{resource.resource_id}' already exists.")
        return {**resource_view(resource), "keys": keys}

    @router.get("/resources/{resource_id}")
    async def get_resource(resource_id: str, request: Request) -> Any:
        require_admin(request)
        return resource_view(await existing(resource_id))

    @router.patch("/resources/{resource_id}")
    async def update_resource(resource_id: str, request: Request) -> Any:
        require_admin(request)
        change = validated(ResourceUpdate, await read_json(request, settings.admin_max_body_bytes))
        current = await existing(resource_id)
        resource = Resource.model_validate({**current.model_dump(), **change.model_dump(exclude_none=True)})
        await check_fine_tuned_adapters(request, resource)
        await ports.resources.replace(resource)
        return resource_view(resource)

    @router.delete("/resources/{resource_id}", status_code=204)
    async def delete_resource(resource_id: str, request: Request) -> Response:
        require_admin(request)
        if not await ports.resources.delete(resource_id):
            raise NotFound(f"Resource '{resource_id}' does not exist.", code="ResourceNotFound")
        await ports.connections.store.delete_resource(resource_id)
        return Response(status_code=204)

    # Data connections: the customer databases a resource may ground requests on ("on your data").
    @router.post("/resources/{resource_id}/data-connections", status_code=201)
    async def create_data_connection(resource_id: str, request: Request) -> Any:
        require_admin(request)
        spec = validated(ConnectionCreate, await read_json(request, settings.admin_max_body_bytes))
        await existing(resource_id)
        return (await ports.connections.register(resource_id, spec)).view()

    @router.get("/resources/{resource_id}/data-connections")
    async def list_data_connections(resource_id: str, request: Request) -> Any:
        require_admin(request)
        await existing(resource_id)
        return {"object": "list", "data": [c.view() for c in await ports.connections.store.list_for(resource_id)]}

    @router.get("/resources/{resource_id}/data-connections/{name}")
    async def get_data_connection(resource_id: str, name: str, request: Request) -> Any:
        require_admin(request)
        return (await ports.connections.get(resource_id, name)).view()

    @router.delete("/resources/{resource_id}/data-connections/{name}", status_code=204)
    async def delete_data_connection(resource_id: str, name: str, request: Request) -> Response:
        require_admin(request)
        if not await ports.connections.store.delete(resource_id, name):
            raise NotFound(f"Data connection '{name}' does not exist.", code="DataConnectionNotFound")
        return Response(status_code=204)

    @router.post("/resources/{resource_id}/keys/{slot}/regenerate")
    async def regenerate_key(resource_id: str, slot: str, request: Request) -> Any:
        require_admin(request)
        if slot not in KEY_SLOTS:
            raise InvalidRequest("The key slot must be key1 or key2.", param="slot")
        key = new_key()
        key_slot: KeySlot = slot
        if not await ports.resources.set_key_hash(resource_id, key_slot, hash_key(key)):
            raise NotFound(f"Resource '{resource_id}' does not exist.", code="ResourceNotFound")
        return {slot: key}

    return router
