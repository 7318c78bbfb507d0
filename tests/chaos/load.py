"""A bounded load generator on loopback: a few workers send chat requests (half of them streamed)
through both gateways until told to stop or a fixed count is reached, and sort every answer.

Each request asks the echo engine to repeat a phrase of its own, so an answer is checked
exactly: ``ok`` is the caller's own text once; ``wrong`` is any other text under HTTP 200 (a
duplicated stream, a mix of two attempts, another caller's answer); ``error`` is an explicit
error (any non-200 status, an error event in a stream, a connection reset by a killed gateway);
``unanswered`` is no answer at all within the client's limit, well past the gateway's time-out.
A connection refused before the request was sent (the gateway was down) goes to the other
gateway, as a load balancer would send it.
"""

from __future__ import annotations

import asyncio
import json
import random
import string
import time
from dataclasses import dataclass, field

import httpx

CLIENT_TIMEOUT_S = 80.0  # the gateways answer within reply_timeout_s (60 s) or not at all
SLOW_S = 5.0  # an answer later than this counts as disturbed when measuring recovery


@dataclass
class Outcome:
    index: int
    gateway: int
    stream: bool
    sent_at: float
    done_at: float = 0.0
    kind: str = "unanswered"  # ok | error | wrong | unanswered
    status: int | None = None
    request_id: str | None = None
    detail: str = ""
    resource: int = 0
    retry_after_s: float = 0.0

    @property
    def disturbed(self) -> bool:
        return self.kind != "ok" or self.done_at - self.sent_at > SLOW_S


@dataclass
class Load:
    gateways: list[str]
    keys: list[str]  # one api key per resource
    run: str
    workers: int = 4
    max_requests: int = 600
    pause_s: float = 0.05
    words: int = 0  # extra words per prompt (overload: long answers)
    ramp_s: float = 0.0  # the workers start one after another over this time
    outcomes: list[Outcome] = field(default_factory=list)
    _next: int = 0

    def phrase(self, index: int) -> str:
        tag = "".join(random.choices(string.ascii_lowercase, k=10))
        filler = " ".join(random.choices(("alpha", "bravo", "delta", "kilo", "lima"), k=self.words))
        return f"chaos {self.run} request {index} {tag} {filler}".strip()

    async def run_until(self, stop: asyncio.Event) -> list[Outcome]:
        timeout = httpx.Timeout(CLIENT_TIMEOUT_S, connect=2.0)
        limits = httpx.Limits(max_connections=self.workers * 2, max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
            await asyncio.gather(*(self._worker(client, stop, k * self.ramp_s / self.workers)
                                   for k in range(self.workers)))
        return self.outcomes

    async def _worker(self, client: httpx.AsyncClient, stop: asyncio.Event, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        while not stop.is_set() and self._next < self.max_requests:
            index, self._next = self._next, self._next + 1
            outcome = await self._one(client, index)
            await asyncio.sleep(max(self.pause_s, outcome.retry_after_s))  # a shed caller waits as told

    async def _one(self, client: httpx.AsyncClient, index: int) -> Outcome:
        resource = index % len(self.keys)
        outcome = Outcome(index, index % len(self.gateways), index % 2 == 1, time.monotonic(), resource=resource)
        self.outcomes.append(outcome)
        phrase = self.phrase(index)
        body = {"model": "chat", "messages": [{"role": "user", "content": phrase}], "stream": outcome.stream}
        headers = {"api-key": self.keys[resource]}
        for attempt in range(len(self.gateways)):
            gateway = self.gateways[(outcome.gateway + attempt) % len(self.gateways)]
            try:
                await self._send(client, gateway, body, headers, f"You said: {phrase}", outcome)
                break
            except httpx.ConnectError:
                outcome.kind, outcome.detail = "error", "refused"  # both gateways down: an error
            except httpx.TimeoutException as error:
                outcome.kind, outcome.detail = "unanswered", type(error).__name__
                break
            except httpx.HTTPError as error:  # reset, closed mid-stream: the gateway died
                outcome.kind, outcome.detail = "error", type(error).__name__
                break
        outcome.done_at = time.monotonic()
        return outcome

    async def _send(self, client: httpx.AsyncClient, gateway: str, body: dict, headers: dict, expected: str,
                    outcome: Outcome) -> None:
        async with client.stream("POST", f"{gateway}/v1/chat/completions", json=body, headers=headers) as response:
            outcome.status = response.status_code
            outcome.request_id = response.headers.get("x-request-id")
            if response.status_code != 200:
                outcome.retry_after_s = float(response.headers.get("retry-after", 0))
                payload = json.loads(await response.aread())
                outcome.kind, outcome.detail = "error", str(payload.get("error", {}).get("code"))
                return
            if not outcome.stream:
                payload = json.loads(await response.aread())
                text = payload["choices"][0]["message"]["content"]
                outcome.kind = "ok" if text == expected else "wrong"
                outcome.detail = "" if text == expected else "other text"
                return
            text, done, error = "", False, None
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                data = line[len("data: "):]
                if data == "[DONE]":
                    done = True
                    continue
                event = json.loads(data)
                if "error" in event:
                    error = event["error"].get("code")
                    continue
                for choice in event.get("choices", []):
                    text += (choice.get("delta") or {}).get("content") or ""
            if error is not None:
                outcome.kind, outcome.detail = "error", f"stream {error}"
            elif not done:
                outcome.kind, outcome.detail = "error", "stream cut"
            else:
                outcome.kind = "ok" if text == expected else "wrong"
                outcome.detail = "" if text == expected else "other text"
