"""Load shedding: a saturated gateway replica answers new inference requests at once with an
OpenAI-shaped 429 or 503 and ``Retry-After``, instead of letting every caller wait out the reply
time-out.

The signal, per replica: the requests it accepted that have not started their response yet
(*waiting*: a non-streamed request until its answer, a streamed one until its first reply), and
the requests still waiting for their first completion (the reply inbox's ``backlog``: a
stream's response starts with the prompt's annotations, before any text). Thresholds
(``SheddingSettings``):

- ``shed_max_wait_s`` (default: a quarter of the reply time-out): at least ``shed_min_waiting``
  (8) requests wait and the oldest has waited this long. Inference (or the filter) is behind:
  more requests would only wait longer, so new ones get **503** ``overloaded``.
- ``shed_max_waiting``: this many requests wait on this replica. New ones get **429**
  ``too_many_requests`` (the replica's own bound: memory, sockets, the bus's in-flight window).

Both answer with ``Retry-After: shed_retry_after_s``. A shed request has done no work: no store
read, no bus message; it is counted in ``LoadShedder.shed``. Only the inference routes (POST
``…/chat/completions``, ``…/completions``, ``…/embeddings``) are shed; health, models and the
admin API never are.

Hook: ``LoadShedding`` is a plain ASGI middleware around the public app
(``app.add_middleware(LoadShedding, shedder=LoadShedder(settings, backlog=inbox.backlog))``);
it needs nothing from the routes behind it.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.common import ApiError
from services.runtime.reply_inbox import Backlog

log = logging.getLogger("residency.gateway.shedding")
SHED_PATHS = ("/chat/completions", "/completions", "/embeddings")


class SheddingSettings(BaseSettings):
    """A mixin of the gateway's settings (env prefix RESIDENCY_GATEWAY_)."""

    shed_max_wait_s: float | None = Field(None, gt=0, description=(
        "Shed new inference requests (503) while the oldest request waiting for its first reply on "
        "this replica has waited this long; below reply_timeout_s. Default: a quarter of "
        "reply_timeout_s (15 s at its default of 60 s)."))
    shed_max_waiting: int = Field(512, ge=1, description=(
        "Shed new inference requests (429) while this many wait for their first reply on this replica."))
    shed_min_waiting: int = Field(8, ge=1, description=(
        "The wait rule applies only while at least this many requests wait: one slow request "
        "(a long prompt, a silent data source) is not overload."))
    shed_retry_after_s: int = Field(2, ge=1, le=600, description="Retry-After of a shed request, in seconds.")

    @property
    def shed_wait_limit_s(self) -> float:
        if self.shed_max_wait_s is not None:
            return self.shed_max_wait_s
        return float(getattr(self, "reply_timeout_s", 60.0)) / 4

    @model_validator(mode="after")
    def _sheds_before_the_time_out(self) -> SheddingSettings:
        timeout = getattr(self, "reply_timeout_s", None)  # the gateway's, when mixed into its settings
        if timeout is not None and self.shed_wait_limit_s >= timeout:
            raise ValueError("shed_max_wait_s must be below reply_timeout_s: shedding comes before time-outs")
        return self


class WaitingRequests:
    """Start times of the requests that have no response yet, in arrival order."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started: dict[int, float] = {}  # insertion order is arrival order
        self._tickets = itertools.count()

    def begin(self) -> int:
        ticket = next(self._tickets)
        self._started[ticket] = self._clock()
        return ticket

    def end(self, ticket: int) -> None:
        self._started.pop(ticket, None)

    @property
    def count(self) -> int:
        return len(self._started)

    def oldest_age_s(self) -> float:
        if not self._started:
            return 0.0
        return self._clock() - next(iter(self._started.values()))

    def backlog(self) -> Backlog:
        return Backlog(self.count, self.oldest_age_s())


class LoadShedder:
    def __init__(self, settings: SheddingSettings, clock: Callable[[], float] = time.monotonic,
                 backlog: Callable[[], Backlog] | None = None) -> None:
        """``backlog``: the requests still waiting for their first completion (the reply inbox's
        ``backlog``); a stream's response starts before that, with the prompt's annotations."""
        self.settings = settings
        self.waiting = WaitingRequests(clock)
        self.shed: dict[int, int] = {429: 0, 503: 0}
        self._backlog = backlog
        self._shedding = False

    def behind(self) -> Backlog:
        """The longer-waiting of the two measures, when enough requests wait for it to mean
        overload (one slow request, e.g. on a silent data source, does not)."""
        measures = [self.waiting.backlog(), *([self._backlog()] if self._backlog else [])]
        crowded = [m for m in measures if m.waiting >= self.settings.shed_min_waiting]
        return max(crowded, key=lambda m: m.oldest_age_s, default=Backlog(0, 0.0))

    def refusal(self) -> ApiError | None:
        """The error a new request gets now, or None when it may go on."""
        error = None
        behind = self.behind()
        age = behind.oldest_age_s
        if age >= self.settings.shed_wait_limit_s:
            error = ApiError(status=503, type="server_error", code="overloaded", message=(
                f"The service is overloaded ({behind.waiting} requests waiting, the oldest for {age:.0f} s); "
                f"retry after {self.settings.shed_retry_after_s} s."))
        elif self.waiting.count >= self.settings.shed_max_waiting:
            error = ApiError(status=429, type="rate_limit_error", code="too_many_requests", message=(
                f"Too many requests in progress on this replica; retry after {self.settings.shed_retry_after_s} s."))
        if (error is not None) != self._shedding:
            self._shedding = error is not None
            log.warning("load shedding %s: %d waiting, oldest %.1f s, shed so far 429=%d 503=%d",
                        "on" if self._shedding else "off", self.waiting.count, age, self.shed[429], self.shed[503])
        if error is not None:
            self.shed[error.status] += 1
        return error


def _refusal_body(error: ApiError) -> bytes:
    return json.dumps({"error": {"message": error.message, "type": error.type, "param": None,
                                 "code": error.code}}).encode()


class LoadShedding:
    """ASGI middleware: sheds inference requests when ``shedder`` says so; times the others."""

    def __init__(self, app: ASGIApp, shedder: LoadShedder) -> None:
        self.app = app
        self.shedder = shedder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].endswith(SHED_PATHS):
            await self.app(scope, receive, send)
            return
        error = self.shedder.refusal()
        if error is not None:
            await self._refuse(send, error)
            return
        ticket = self.shedder.waiting.begin()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.shedder.waiting.end(ticket)
            await send(message)

        try:
            await self.app(scope, receive, timed)
        finally:
            self.shedder.waiting.end(ticket)

    async def _refuse(self, send: Send, error: ApiError) -> None:
        request_id = uuid.uuid4().hex
        body = _refusal_body(error)
        headers: list[Any] = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                              (b"retry-after", str(self.shedder.settings.shed_retry_after_s).encode()),
                              (b"x-request-id", request_id.encode()), (b"apim-request-id", request_id.encode())]
        await send({"type": "http.response.start", "status": error.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
