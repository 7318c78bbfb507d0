"""Requests- and tokens-per-minute limits per resource and per deployment, across all replicas.

Counts live in the control-plane store (fixed one-minute windows, one document per scope and
minute, updated with an atomic ``$inc``), so every gateway replica of a region sees the same
numbers. Tokens are charged up front as an estimate (prompt characters / 4 + ``max_tokens``) and
corrected to the real usage once the answer is known, as Azure OpenAI does.
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
    charged: list[tuple[str, int]] = field(default_factory=list)  # (window, tokens charged)
    expires_at: float = 0.0


def estimate_tokens(prompt_chars: int, max_tokens: int | None) -> int:
    return math.ceil(prompt_chars / 4) + (max_tokens or 0)


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
    charged: list[tuple[str, int]] = []
    headers: dict[str, str] = {}
    for key, limits in _scopes(resource, deployment):
        window = f"{key}@{minute}"
        requests_used, tokens_used = await counter.add(window, 1, tokens, expires_at=expires_at)
        charged.append((window, tokens))
        over_requests = limits.rpm is not None and requests_used > limits.rpm
        over_tokens = limits.tpm is not None and tokens_used > limits.tpm
        if over_requests or over_tokens:
            for taken, taken_tokens in charged:
                await counter.add(taken, -1, -taken_tokens, expires_at=expires_at)
            what = "requests" if over_requests else "tokens"
            raise RateLimited(
                f"Requests to this deployment have exceeded the {what} per minute limit of your resource. "
                f"Please retry after {reset_s} seconds.",
                headers={"retry-after": str(reset_s), **_headers(limits, requests_used, tokens_used, reset_s)})
        headers.update(_headers(limits, requests_used, tokens_used, reset_s))
    return Admission(headers=headers, charged=charged, expires_at=expires_at)


async def settle(counter: WindowCounter, admission: Admission, actual_tokens: int) -> None:
    """Replace the up-front token estimate by the real usage."""
    for window, estimated in admission.charged:
        if actual_tokens != estimated:
            await counter.add(window, 0, actual_tokens - estimated, expires_at=admission.expires_at)
