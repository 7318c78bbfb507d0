"""Load shedding: a saturated gateway replica answers new inference requests at once with an
OpenAI-shaped 429 or 503 and ``Retry-After``, instead of letting every caller wait out the reply
time-out.

The signal, per replica: the requests it accepted that have not started their response yet
(*waiting*: a non-streamed request until its answer, a streamed one until its first reply), and
the requests still waiting for their first completion (the reply inbox's ``oldest_unanswered_s``:
a stream's response starts with the prompt's annotations, before any text). Two thresholds
(``SheddingSettings``):

- ``shed_max_wait_s`` (default: a quarter of the reply time-out): the oldest waiting request has
  waited this long, or a new one would (the requests waiting ahead of it over the rate at which
  this replica's requests were answered in the last 10 s, Little's law). Inference (or the
  filter) is behind: more requests would only wait longer, so new ones get **503** ``overloaded``.
- ``shed_max_waiting``: this many requests wait on this replica. New ones get **429**
  ``too_many_requests`` (the replica's own bound: memory, sockets, the bus's in-flight window).

Both answer with ``Retry-After: shed_retry_after_s``. A shed request has done no work: no store
read, no bus message; it is counted in ``LoadShedder.shed``. Only the inference routes (POST
``…/chat/completions``, ``…/completions``, ``…/embeddings``) are shed; health, models and the
admin API never are.

Hook: ``LoadShedding`` is a plain ASGI middleware around the public app
(``app.add_middleware(LoadShedding, shedder=LoadShedder(settings, backlog=inbox.oldest_unanswered_s))``);
it needs nothing from the routes behind it.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.common import ApiError

log = logging.getLogger("residency.gateway.shedding")
SHED_PATHS = ("/chat/completions", "/completions", "/embeddings")
RATE_WINDOW_S = 10.0  # the answer rate is measured over this window
MIN_AHEAD = 8  # fewer waiting requests than this never predict a long wait


class SheddingSettings(BaseSettings):
    """A mixin of the gateway's settings (env prefix RESIDENCY_GATEWAY_)."""

    shed_max_wait_s: float | None = Field(None, gt=0, description=(
        "Shed new inference requests (503) while the oldest request waiting for its first reply on "
        "this replica has waited this long; below reply_timeout_s. Default: a quarter of "
        "reply_timeout_s (15 s at its default of 60 s)."))
    shed_max_waiting: int = Field(512, ge=1, description=(
        "Shed new inference requests (429) while this many wait for their first reply on this replica."))
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
        self._answered: deque[float] = deque()  # when recent requests stopped waiting

    def begin(self) -> int:
        ticket = next(self._tickets)
        self._started[ticket] = self._clock()
        return ticket

    def end(self, ticket: int) -> None:
        if self._started.pop(ticket, None) is not None:
            self._answered.append(self._clock())

    def answer_rate(self) -> float | None:
        """Requests that stopped waiting per second over the last ``RATE_WINDOW_S``; None before any."""
        now = self._clock()
        while self._answered and now - self._answered[0] > RATE_WINDOW_S:
            self._answered.popleft()
        return len(self._answered) / RATE_WINDOW_S if self._answered else None

    def predicted_wait_s(self) -> float:
        """How long a request arriving now would wait: those ahead of it over the answer rate
        (Little's law); 0 while fewer than ``MIN_AHEAD`` wait or nothing was answered lately."""
        rate = self.answer_rate()
        if self.count < MIN_AHEAD or rate is None:
            return 0.0
        return self.count / rate

    @property
    def count(self) -> int:
        return len(self._started)

    def oldest_age_s(self) -> float:
        if not self._started:
            return 0.0
        return self._clock() - next(iter(self._started.values()))


class LoadShedder:
    def __init__(self, settings: SheddingSettings, clock: Callable[[], float] = time.monotonic,
                 backlog: Callable[[], float] | None = None) -> None:
        """``backlog``: how long the oldest accepted request has waited for its first completion
        (the reply inbox's ``oldest_unanswered_s``); a stream's response starts before that."""
        self.settings = settings
        self.waiting = WaitingRequests(clock)
        self._backlog = backlog
        self.shed: dict[int, int] = {429: 0, 503: 0}
        self._shedding = False

    def refusal(self) -> ApiError | None:
        """The error a new request gets now, or None when it may go on."""
        error = None
        age = max(self.waiting.oldest_age_s(), self._backlog() if self._backlog else 0.0)
        wait = max(age, self.waiting.predicted_wait_s())
        if wait >= self.settings.shed_wait_limit_s:
            error = ApiError(status=503, type="server_error", code="overloaded", message=(
                f"The service is overloaded (a request would wait {wait:.0f} s); retry after "
                f"{self.settings.shed_retry_after_s} s."))
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
