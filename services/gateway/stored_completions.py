"""The stored-completions API (``store: true``): list, read, update metadata, delete.

Retention keeps them (services/retention/stored.py); the gateway holds no key and no store, so
each call is a question over the bus (``StoredCompletionsRequested``) answered to this replica,
as a chat request is. Both path styles: ``/v1/chat/completions...`` and, with an api-version,
``/openai/chat/completions...``. Every question names the caller's resource: another
resource's completion is a 404, as if it did not exist.
"""

from __future__ import annotations

import json
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import Field, ValidationError

from contracts.base import utc_now
from contracts.common import Metadata
from contracts.gateway_replies import RequestFailed, StoredCompletionsFound
from contracts.stored_completion_requests import StoredCompletionsRequested
from services.gateway.errors import InvalidRequest, NotFound
from services.gateway.handlers import GatewayPorts, replies_for
from services.gateway.openai_response import error_body
from services.gateway.resources import Resource
from services.gateway.tolerant import Tolerant as _Tolerant

if TYPE_CHECKING:
    from services.gateway.routes import Edge  # routes add these routes: imported for typing only

Operation = Literal["list", "get", "messages", "update", "delete"]
ENVELOPE_DEPLOYMENT = "stored-completions"  # the envelope names a deployment; these calls address none


class MetadataUpdate(_Tolerant):
    metadata: Metadata | None = Field(default_factory=dict)


def _query_fields(request: Request, *, listing: bool) -> dict[str, Any]:
    """after, limit, order (and, for the list, model and metadata[key]=value) from the query string."""
    params = request.query_params
    fields: dict[str, Any] = {"after": params.get("after"), "order": params.get("order", "asc")}
    limit = params.get("limit", "20")
    if not limit.isdigit() or not 1 <= int(limit) <= 100:
        raise InvalidRequest("Invalid value for 'limit': an integer from 1 to 100.", param="limit")
    fields["limit"] = int(limit)
    if fields["order"] not in ("asc", "desc"):
        raise InvalidRequest("Invalid value for 'order': 'asc' or 'desc'.", param="order")
    if listing:
        fields["model"] = params.get("model")
        fields["metadata"] = {key[len("metadata["):-1]: value for key, value in params.multi_items()
                              if key.startswith("metadata[") and key.endswith("]")}
    return fields


async def ask(request: Request, resource: Resource, ports: GatewayPorts, operation: Operation,
              **fields: Any) -> StoredCompletionsFound | RequestFailed:
    request_id = request.state.request_id
    try:
        question = StoredCompletionsRequested(
            request_id=request_id, resource_id=resource.resource_id, region=resource.region,
            deployment=ENVELOPE_DEPLOYMENT, created_at=utc_now(), reply_to=ports.replica_id, operation=operation,
            **fields)
    except ValidationError as error:
        first = error.errors()[0]
        param = str(first["loc"][0]) if first["loc"] else None
        raise InvalidRequest(f"Invalid value for '{param}': {first['msg']}.", param=param) from None
    envelope = question.envelope()
    async with aclosing(replies_for(request_id, envelope, lambda: ports.bus.ask_stored_completions(question),
                                    ports)) as replies:
        async for reply in replies:
            if isinstance(reply, StoredCompletionsFound | RequestFailed):
                return reply
    raise AssertionError("replies_for always ends with a last reply")


def _page(found: StoredCompletionsFound) -> dict[str, Any]:
    data = [json.loads(item) for item in found.items]
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": found.has_more}


def _one(found: StoredCompletionsFound) -> Any:
    if not found.items:  # retention answers a missing completion with a 404; this is belt and braces
        raise NotFound("No stored chat completion found with that id.", code="not_found")
    return json.loads(found.items[0])


def _answer(reply: StoredCompletionsFound | RequestFailed, body: Any) -> JSONResponse:
    if isinstance(reply, RequestFailed):
        return JSONResponse(error_body(reply.error), status_code=reply.error.status)
    return JSONResponse(body(reply))


def add_stored_completion_routes(router: APIRouter, ports: GatewayPorts, dependencies: Edge) -> None:
    caller, body_of = Depends(dependencies.caller), Depends(dependencies.body)
    versioned = [Depends(dependencies.api_version)]

    async def list_completions(request: Request, resource: Resource = caller) -> JSONResponse:
        reply = await ask(request, resource, ports, "list", **_query_fields(request, listing=True))
        return _answer(reply, _page)

    async def get_completion(completion_id: str, request: Request, resource: Resource = caller) -> JSONResponse:
        reply = await ask(request, resource, ports, "get", completion_id=completion_id)
        return _answer(reply, _one)

    async def list_messages(completion_id: str, request: Request, resource: Resource = caller) -> JSONResponse:
        reply = await ask(request, resource, ports, "messages", completion_id=completion_id,
                          **_query_fields(request, listing=False))
        return _answer(reply, _page)

    async def update_completion(completion_id: str, request: Request, resource: Resource = caller,
                                body: dict[str, Any] = body_of) -> JSONResponse:
        try:
            update = MetadataUpdate.model_validate(body)
        except ValidationError as error:
            raise InvalidRequest(f"Invalid value for 'metadata': {error.errors()[0]['msg']}.",
                                 param="metadata") from None
        reply = await ask(request, resource, ports, "update", completion_id=completion_id,
                          metadata=update.metadata or {})
        return _answer(reply, _one)

    async def delete_completion(completion_id: str, request: Request, resource: Resource = caller) -> JSONResponse:
        reply = await ask(request, resource, ports, "delete", completion_id=completion_id)
        return _answer(reply, lambda found: {"object": "chat.completion.deleted", "id": completion_id,
                                             "deleted": found.deleted})

    for style, prefix, checks in (("openai", "/v1/chat/completions", []),
                                  ("azure", "/openai/chat/completions", versioned)):
        one = f"{prefix}/{{completion_id}}"
        for path, endpoint, method, name in ((prefix, list_completions, "GET", "list_stored"),
                                             (one, get_completion, "GET", "get_stored"),
                                             (f"{one}/messages", list_messages, "GET", "stored_messages"),
                                             (one, update_completion, "POST", "update_stored"),
                                             (one, delete_completion, "DELETE", "delete_stored")):
            router.add_api_route(path, endpoint, methods=[method], name=f"{style}_{name}", dependencies=checks)
