"""The customer API of the retention service: a resource owner's access log, retention and deletion.

Authenticated by a per-resource token (``Authorization: Bearer``), stored in settings only as its
SHA-256. An unknown resource and a wrong token get the same 401.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field

from services.retention import customer
from services.retention.customer import CustomerPorts
from services.retention.errors import AccessRefused
from services.retention.review.errors_http import install_error_handlers
from services.retention.review.identity import sha256_hex


class RetentionChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int = Field(description="Days to keep records, 1 to the service's maximum.")


def customer_app(ports: CustomerPorts, token_hashes: Mapping[str, str]) -> FastAPI:
    app = FastAPI(title="Residency retention customer API", version="1", docs_url=None, redoc_url=None,
                  openapi_url=None)
    install_error_handlers(app)

    def require_owner(resource_id: str, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        expected = token_hashes.get(resource_id, "")
        if scheme.lower() != "bearer" or not expected or \
                not hmac.compare_digest(sha256_hex(token.strip().encode()), expected):
            raise AccessRefused("unauthenticated")

    @app.get("/customer/resources/{resource_id}/access-log")
    async def access_log(resource_id: str, request: Request) -> Any:
        require_owner(resource_id, request)
        return {"resource_id": resource_id, "entries": await customer.access_log(resource_id, ports)}

    @app.delete("/customer/resources/{resource_id}/content")
    async def delete_content(resource_id: str, request: Request) -> Any:
        require_owner(resource_id, request)
        return await customer.delete_content(resource_id, ports)

    @app.get("/customer/resources/{resource_id}/retention")
    async def get_retention(resource_id: str, request: Request) -> Any:
        require_owner(resource_id, request)
        return await customer.retention(resource_id, ports)

    @app.put("/customer/resources/{resource_id}/retention")
    async def set_retention(resource_id: str, body: RetentionChange, request: Request) -> Any:
        require_owner(resource_id, request)
        return await customer.set_retention(resource_id, body.days, ports)

    return app
