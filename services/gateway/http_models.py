"""Deleting a fine-tuned model: ``DELETE /v1/models/{model}`` and ``/openai/models/{model}?api-version=...``.

Only the owning resource finds it (another's is a 404). The model's record is hidden at once, so no
request can use it from the moment the caller has the answer; then ``{region}.tuning.model-deletions.v1``
has the tuning service shred the adapter and every inference replica unload it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from contracts.tuning_model_deletions import DeleteFineTunedModel
from services.gateway.errors import NotFound
from services.gateway.handlers import GatewayPorts
from services.gateway.http_files import caller, envelope
from services.gateway.settings import GatewaySettings
from services.gateway.tuning_edge import TuningEdge


def models_router(ports: GatewayPorts, edge: TuningEdge, settings: GatewaySettings) -> APIRouter:
    router = APIRouter()

    async def delete(request: Request, model: str, azure: bool) -> Any:
        resource = await caller(request, ports, edge, azure, settings)
        if not await edge.catalog.hide_model(resource.resource_id, model):
            raise NotFound(f"The model '{model}' does not exist.", param="model", code="model_not_found")
        fields = {**envelope(request, resource, edge), "deployment": "models"}
        await edge.deletions.publish(DeleteFineTunedModel(**fields, model=model))
        return {"id": model, "object": "model", "deleted": True}

    for prefix, azure in (("/openai", True), ("/v1", False)):
        router.add_api_route(f"{prefix}/models/{{model}}", _bind(delete, azure), methods=["DELETE"],
                             name=f"{'azure' if azure else 'openai'}_delete_model")
    return router


def _bind(handle: Any, azure: bool) -> Any:
    async def route(request: Request, model: str) -> Any:
        return await handle(request, model, azure)
    return route
