"""Telemetry of an HTTP listener, as one ASGI middleware: a server span per request (continuing a
caller's ``traceparent``), requests by route and status, and latency.

The route is the matched route's template (``/openai/deployments/{deployment_id}/chat/completions``),
never the raw path: paths carry deployment names and IDs, and a metric label per value would grow
without bound. Unmatched paths count as ``unmatched``.
"""

from __future__ import annotations

import time
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.runtime.metrics import HTTP_LATENCY, HTTP_REQUESTS

tracer = trace.get_tracer("residency.http")


def route_of(scope: Scope) -> str:
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else "unmatched"


class HttpTelemetry:
    """``app.add_middleware(HttpTelemetry, service="gateway")``."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())
                   if k in (b"traceparent", b"tracestate")}
        status: dict[str, int] = {"code": 500}  # an exception before the answer started is a 500

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        began = time.perf_counter()
        with tracer.start_as_current_span(f"{method}", context=propagate.extract(carrier), kind=SpanKind.SERVER,
                                          attributes={"http.request.method": method},
                                          record_exception=False, set_status_on_exception=False) as span:
            try:
                await self.app(scope, receive, send_status)
            finally:
                route = route_of(scope)
                code = status["code"]
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", code)
                if request_id := _request_id(scope):
                    span.set_attribute("residency.request_id", request_id)
                if code >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                HTTP_REQUESTS.labels(self.service, method, route, str(code)).inc()
                HTTP_LATENCY.labels(self.service, method, route).observe(time.perf_counter() - began)


def _request_id(scope: Scope) -> str | None:
    state: Any = scope.get("state") or {}
    request_id = state.get("request_id") if isinstance(state, dict) else getattr(state, "request_id", None)
    return request_id if isinstance(request_id, str) else None

