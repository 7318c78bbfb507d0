"""Topic ``{region}.inference.cancellations.v1``: stop generating for a request."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.base import Envelope, message_key

TOPIC = "{region}.inference.cancellations.v1"
key = message_key


class CancelGeneration(Envelope):
    """Abort the request inside the engine: the caller left, the filter stopped it, it timed out, or
    the filter lost its stream (the caller was answered with an error)."""

    reason: Literal["client_disconnected", "content_filter", "timeout", "stream_interrupted"] = Field(
        description="Why the generation is no longer wanted."
    )
