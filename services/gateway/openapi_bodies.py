"""Request bodies of the HTTP API in the generated OpenAPI document.

The routes read their bodies themselves (to answer bad JSON and wrong types in the OpenAI error
shape), so FastAPI cannot infer them: this module puts the edge models into the document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from services.gateway import openai_request as edge
from services.gateway.data_connections import ConnectionCreate
from services.gateway.http_admin import ResourceCreate, ResourceUpdate

REF = "#/components/schemas/{model}"
DATA_BODIES: dict[str, type[BaseModel]] = {
    "/v1/chat/completions": edge.ChatRequestBody,
    "/openai/deployments/{deployment}/chat/completions": edge.ChatRequestBody,
    "/v1/completions": edge.CompletionsRequestBody,
    "/openai/deployments/{deployment}/completions": edge.CompletionsRequestBody,
    "/v1/embeddings": edge.EmbeddingsRequestBody,
    "/openai/deployments/{deployment}/embeddings": edge.EmbeddingsRequestBody,
}
ADMIN_BODIES: dict[str, type[BaseModel]] = {"/admin/resources": ResourceCreate,
                                             "/admin/resources/{resource_id}/data-connections": ConnectionCreate}
ADMIN_PATCH_BODIES: dict[str, type[BaseModel]] = {"/admin/resources/{resource_id}": ResourceUpdate}


def install_openapi(app: FastAPI, bodies: dict[str, type[BaseModel]],
                    patch_bodies: dict[str, type[BaseModel]] | None = None) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(title=app.title, version=app.version, routes=app.routes)
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for method, by_path in (("post", bodies), ("patch", patch_bodies or {})):
            for path, model in by_path.items():
                schema = model.model_json_schema(ref_template=REF)
                schemas.update(schema.pop("$defs", {}))
                schemas[model.__name__] = schema
                document["paths"][path][method]["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}}}
        document["components"]["securitySchemes"] = {
            "apiKey": {"type": "apiKey", "in": "header", "name": "api-key"},
            "bearer": {"type": "http", "scheme": "bearer"}}
        document["security"] = [{"apiKey": []}, {"bearer": []}]
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
