"""Requests- and tokens-per-minute limits per resource and per deployment, across all replicas.

Counts live in the control-plane store (fixed one-minute windows, one document per scope and
minute, updated with an atomic ``$inc``), so every gateway replica of a region sees the same
numbers. Tokens are charged up front as an estimate and corrected to the real usage once the
answer is known, as Azure OpenAI does. The estimate is prompt characters / 4 plus, for each of the
``n`` choices, ``max_tokens`` — or, when the caller set none, the rest of the deployment's context
(what the model may generate). The correction is booked to the window current when the answer is
known: after a stream that outlived its minute, the real usage counts in the minute it is spent.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Protocol

from services.gateway.errors import GatewayError
from services.gateway.resources import Deployment, Limits, Resource

WINDOW_S = 60


class WindowCounter(Protocol):
    async def add(self, window: str, requests: int, tokens: int, *, expires_at: float) -> tuple[int, int]:
        """Adds to a window's counts atomically; returns the counts after the addition."""


class RateLimited(GatewayError):
    status, type, code = 429, "rate_limit_error", "rate_limit_exceeded"


@dataclass(frozen=True)
class Admission:
    headers: dict[str, str]
    scopes: list[str] = field(default_factory=list)  # resource and deployment scopes charged
    tokens: int = 0  # the estimate charged to each scope
    minute: int = 0  # the window it was charged to


def estimate_tokens(prompt_chars: int, *, max_tokens: int | None = None, n: int = 1,
                    context_length: int | None = None) -> int:
    """Prompt characters / 4, plus ``n`` times what one choice may generate.

    A choice generates at most ``max_tokens`` and never more than the context holds; without
    ``max_tokens`` it may fill the rest of the context. Without a context length (embeddings)
    only the prompt counts.
    """
    prompt = math.ceil(prompt_chars / 4)
    if context_length is None:
        return prompt + n * (max_tokens or 0)
    room = max(0, context_length - prompt)
    return prompt + n * (room if max_tokens is None else min(max_tokens, context_length))


def _scopes(resource: Resource, deployment: Deployment) -> list[tuple[str, Limits]]:
    scopes = [(resource.resource_id, resource.limits),
              (f"{resource.resource_id}/{deployment.name}", deployment.limits)]
    return [(key, limits) for key, limits in scopes if limits.rpm or limits.tpm]


def _headers(limits: Limits, requests: int, tokens: int, reset_s: int) -> dict[str, str]:
    headers = {}
    if limits.rpm:
        headers.update({"x-ratelimit-limit-requests": str(limits.rpm),
                        "x-ratelimit-remaining-requests": str(max(0, limits.rpm - requests)),
                        "x-ratelimit-reset-requests": f"{reset_s}s"})
    if limits.tpm:
        headers.update({"x-ratelimit-limit-tokens": str(limits.tpm),
                        "x-ratelimit-remaining-tokens": str(max(0, limits.tpm - tokens)),
                        "x-ratelimit-reset-tokens": f"{reset_s}s"})
    return headers


async def admit(counter: WindowCounter, resource: Resource, deployment: Deployment, tokens: int,
                *, now: float | None = None) -> Admission:
    """Charge one request and ``tokens``; raises RateLimited (and takes the charge back) if over."""
    now = time.time() if now is None else now
    minute = int(now // WINDOW_S)
    expires_at = (minute + 2) * WINDOW_S
    reset_s = max(1, math.ceil((minute + 1) * WINDOW_S - now))
    charged: list[str] = []
    headers: dict[str, str] = {}
    for key, limits in _scopes(resource, deployment):
        requests_used, tokens_used = await counter.add(f"{key}@{minute}", 1, tokens, expires_at=expires_at)
        charged.append(key)
        over_requests = limits.rpm is not None and requests_used > limits.rpm
        over_tokens = limits.tpm is not None and tokens_used > limits.tpm
        if over_requests or over_tokens:
            for taken in charged:
                await counter.add(f"{taken}@{minute}", -1, -tokens, expires_at=expires_at)
            what = "requests" if over_requests else "tokens"
            raise RateLimited(
                f"Requests to this deployment have exceeded the {what} per minute limit of your resource. "
                f"Please retry after {reset_s} seconds.",
                headers={"retry-after": str(reset_s), **_headers(limits, requests_used, tokens_used, reset_s)})
        headers.update(_headers(limits, requests_used, tokens_used, reset_s))
    return Admission(headers=headers, scopes=charged, tokens=tokens, minute=minute)


async def settle(counter: WindowCounter, admission: Admission, actual_tokens: int, *,
                 now: float | None = None) -> None:
    """Replace the up-front estimate by the real usage, in the window current now.

    Within the admission's minute the difference is booked either way. Later, only usage beyond
    the estimate is: the earlier minute's over-estimate went with that minute, and crediting it
    to the current one would let a caller exceed the current limit.
    """
    now = time.time() if now is None else now
    minute = int(now // WINDOW_S)
    correction = actual_tokens - admission.tokens
    if correction == 0 or (correction < 0 and minute != admission.minute):
        return
    for key in admission.scopes:
        await counter.add(f"{key}@{minute}", 0, correction, expires_at=(minute + 2) * WINDOW_S)
