"""The gateway process: FastAPI for HTTP, a FastStream broker for the bus, wired together.

Reply routing: every replica reads every partition of the region's replies topic *without* a
consumer group and keeps only replies whose ``residency-reply-to`` header is its replica ID.
A consumer group would hand a reply to whichever replica owns the partition, not to the one
holding the caller's connection. See README, "Reply routing".
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts import (
    gateway_replies,
)
from contracts.base import topic_name
from contracts.common import ApiError
from contracts.registry import GATEWAY_REPLY, topics_of
from services.gateway.bootstrap import Gateway, bootstrap
from services.gateway.errors import GatewayError
from services.gateway.http_admin import admin_router
from services.gateway.http_tuning import include_tuning_routes
from services.gateway.openai_response import error_body
from services.gateway.openapi_bodies import ADMIN_BODIES, ADMIN_PATCH_BODIES, DATA_BODIES, install_openapi
from services.gateway.routes import data_router, new_request_id
from services.gateway.settings import GatewaySettings
from services.gateway.shedding import LoadShedder, LoadShedding
from services.runtime.bus import RawMessage
from services.runtime.http_telemetry import HttpTelemetry
from services.runtime.logs import bind_request_id
from services.runtime.metrics import start_metrics_server
from services.runtime.replies import wait_until_positioned
from services.runtime.startup import require_topics

log = logging.getLogger("residency.gateway")


def subscribe_replies(gateway: Gateway, settings: GatewaySettings) -> Any:
    topic = topic_name(gateway_replies.TOPIC, settings.region)
    subscriber = gateway.broker.subscriber(
        topic, auto_offset_reset="latest", fetch_max_wait_ms=settings.fetch_max_wait_ms,
        description="Replies of every replica; this one keeps those whose residency-reply-to is its ID.")

    @subscriber
    async def on_reply(message: RawMessage) -> None:
        # Filter on the header first: replies of other replicas are skipped without parsing.
        if message.headers.get(gateway_replies.REPLY_TO_HEADER) != settings.replica_id:
            return
        gateway.inbox.deliver(GATEWAY_REPLY.validate_json(message.body))

    return subscriber


def _error_response(error: ApiError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(error), status_code=error.status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def gateway_error(request: Request, error: GatewayError) -> JSONResponse:
        return _error_response(error.as_api_error(), error.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        return _error_response(ApiError(status=400, type="invalid_request_error",
                                                 code="invalid_request", message="Invalid request."))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        message = "Resource not found" if error.status_code == 404 else str(error.detail)
        return _error_response(ApiError(status=error.status_code, type="invalid_request_error",
                                                 code=str(error.status_code), message=message))

    @app.exception_handler(KafkaError)
    @app.exception_handler(ConnectionFailure)
    async def dependency_unavailable(request: Request, error: Exception) -> JSONResponse:
        log.error("request %s: dependency unavailable (%s)", request.state.request_id, type(error).__name__)
        return _error_response(ApiError(status=503, type="server_error", code="service_unavailable",
                                                 message="The service is temporarily unavailable; retry."),
                               {"retry-after": "1"})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        request_id = request.state.request_id
        # Starlette calls this handler inside its except block: the traceback is there to log.
        log.exception("request %s failed: %s", request_id, type(error).__name__)  # noqa: LOG004
        # Starlette answers unhandled errors outside the middleware: set the ID headers here.
        return _error_response(ApiError(status=500, type="server_error", code="internal_error",
                                                 message=f"Internal error; request ID {request_id}."),
                               {"x-request-id": request_id, "apim-request-id": request_id})


class RequestIds:
    """A request ID per HTTP request (``request.state.request_id``), returned with the replica's
    ID in the response headers. Plain ASGI: Starlette's ``BaseHTTPMiddleware`` runs each request
    through an extra task and memory stream, which costs the hot path more than the rest of it."""

    def __init__(self, app: ASGIApp, *, replica_id: str) -> None:
        self.app = app
        self.replica = replica_id.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        bind_request_id(request_id)
        ids = [(b"x-request-id", request_id.encode()), (b"apim-request-id", request_id.encode()),
               (b"x-residency-replica", self.replica)]

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *ids]
            await send(message)

        await self.app(scope, receive, send_with_ids)


def _edge_app(title: str, settings: GatewaySettings, **options: Any) -> FastAPI:
    """A FastAPI app with what every listener has: request IDs and errors in the OpenAI shape."""
    app = FastAPI(title=title, version="1", **options)

    app.add_middleware(RequestIds, replica_id=settings.replica_id)
    install_error_handlers(app)
    app.add_middleware(HttpTelemetry, service="gateway")  # outermost: spans and metrics see every answer
    return app


def create_app(settings: GatewaySettings, **overrides: Any) -> FastAPI:
    """The public app (data plane); the control plane's app is ``app.state.admin``, served on
    its own listener (``ADMIN_HOST``:``ADMIN_PORT``, see ``by_listener``)."""
    tuning_fakes = {name: overrides.pop(f"tuning_{name}", None) for name in ("catalog", "publisher")}
    gateway = bootstrap(settings, **overrides)
    replies = subscribe_replies(gateway, settings)
    own_topics = [topic_name(t, settings.region) for t in topics_of("gateway")]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        start_metrics_server(settings.metrics_port, settings.metrics_host)
        await require_topics(settings.kafka_bootstrap, own_topics, **settings.kafka_client_options())
        for store in (gateway.ports.resources, gateway.ports.windows, gateway.ports.connections.store):
            if hasattr(store, "create_indexes"):
                await store.create_indexes()
        await gateway.broker.start()
        await wait_until_positioned(replies)
        app.state.ready = True
        log.info("replica %s ready on %s:%s (admin on %s:%s)", settings.replica_id, settings.host, settings.port,
                 settings.admin_host, settings.admin_port)
        try:
            yield
        finally:
            app.state.ready = False
            await gateway.broker.stop()
            close = getattr(gateway.ports.resources, "close", None)
            if close:
                await close()

    app = _edge_app("Residency gateway", settings, lifespan=lifespan)
    app.state.shedder = LoadShedder(settings, backlog=gateway.inbox.backlog)
    app.add_middleware(LoadShedding, shedder=app.state.shedder)  # outermost: a shed request does no work
    app.state.ready = False
    app.state.gateway = gateway

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        ready = bool(app.state.ready)
        return JSONResponse({"ready": ready, "replica": settings.replica_id, "region": settings.region},
                            status_code=200 if ready else 503)

    app.include_router(data_router(gateway.ports, settings))
    include_tuning_routes(app, gateway, settings, **tuning_fakes)  # files and fine-tuning
    install_openapi(app, DATA_BODIES)

    admin = _edge_app("Residency gateway control plane", settings)
    admin.state.gateway = gateway
    admin.state.tuning = app.state.tuning  # fine-tuned deployments are checked against the catalogue
    admin.include_router(admin_router(gateway.ports, settings))
    install_openapi(admin, ADMIN_BODIES, ADMIN_PATCH_BODIES)
    app.state.admin = admin
    return app


def by_listener(app: FastAPI, admin_port: int) -> ASGIApp:
    """One process, two listeners: a request reaches the control plane only through the admin
    listener. The choice is by the local port of the connection (the socket it arrived on),
    which a client cannot forge, not by anything in the request. The lifespan is the public app's."""
    admin: ASGIApp = app.state.admin

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server") or (None, None)
        if scope["type"] != "lifespan" and server[1] == admin_port:
            await admin(scope, receive, send)
        else:
            await app(scope, receive, send)

    return route
