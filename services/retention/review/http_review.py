"""The review API (its own app, port and credentials; never the customer API).

Reached only over mutual TLS from a registered workstation; the person authenticates with a
bearer token. No route lists or searches content: records are read one at a time, by resource
and request ID, under a grant named in the ``x-review-grant`` header.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import FastAPI, Header, Request
from pydantic import BaseModel, ConfigDict, Field

from contracts.base import RequestId, ResourceId
from services.retention.review import access
from services.retention.review.access import ReviewPorts
from services.retention.review.errors_http import install_error_handlers
from services.retention.review.identity import Caller, ReviewDirectory

CLIENT_CERT_STATE = "residency_client_certificate"


class GrantRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource_id: ResourceId
    request_id: RequestId
    reason: str = Field(min_length=1, max_length=500, description="Why the record must be read.")


def review_app(ports: ReviewPorts, directory: ReviewDirectory) -> FastAPI:
    app = FastAPI(title="Residency review API", version="1", docs_url=None, redoc_url=None, openapi_url=None)
    install_error_handlers(app)

    def caller_of(request: Request) -> Caller:
        certificate = request.scope.get("state", {}).get(CLIENT_CERT_STATE)
        return directory.identify(certificate, request.headers.get("authorization"))

    @app.get("/review/flags")
    async def list_flags(request: Request, limit: int = 100) -> Any:
        flags = await access.list_flags(caller_of(request), ports, min(max(limit, 1), 1000))
        return {"flags": [asdict(f) for f in flags]}

    @app.post("/review/grants", status_code=201)
    async def request_grant(body: GrantRequest, request: Request) -> Any:
        grant = await access.request_grant(caller_of(request), body.resource_id, body.request_id,
                                           body.reason, ports)
        return asdict(grant)

    @app.post("/review/grants/{grant_id}/approve")
    async def approve_grant(grant_id: str, request: Request) -> Any:
        return asdict(await access.approve_grant(caller_of(request), grant_id, ports))

    @app.get("/review/records/{resource_id}/{request_id}")
    async def read_record(resource_id: str, request_id: str, request: Request,
                          x_review_grant: str | None = Header(None)) -> Any:
        return await access.read_record(caller_of(request), resource_id, request_id, x_review_grant, ports)

    return app
