"""Hands replies to the calls waiting for them in this process (a gateway's HTTP callers, retrieval's
query embeddings).

A reply that arrives for a request nobody waits for any more (its caller timed out or left)
is dropped: the caller already had its answer. A completion reply whose sequence already
arrived is dropped too: the filter publishes it again when it restarts before committing the
event it came from (replies are published before the commit), and the caller must not see the
text twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

from contracts.base import Envelope
from contracts.gateway_replies import CompletionReady, EmbeddingsReady, RequestFailed

log = logging.getLogger("residency.replies")


class Backlog(NamedTuple):
    """Requests waiting, and how long the oldest of them has waited (load shedding)."""

    waiting: int
    oldest_age_s: float


class _Stream:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Envelope] = asyncio.Queue()
        self.sequences: set[int] = set()  # completion replies delivered so far
        self.opened_at = time.monotonic()
        self.answering = False  # its first completion, embeddings or error arrived

    async def next(self, timeout_s: float) -> Envelope:
        return await asyncio.wait_for(self.queue.get(), timeout_s)


class InMemoryReplyInbox:
    def __init__(self) -> None:
        self._waiting: dict[str, _Stream] = {}

    @contextmanager
    def open(self, request_id: str) -> Iterator[_Stream]:
        stream = self._waiting[request_id] = _Stream()
        try:
            yield stream
        finally:
            self._waiting.pop(request_id, None)

    def deliver(self, reply: Envelope) -> bool:
        stream = self._waiting.get(reply.request_id)
        if stream is None:
            log.debug("reply for request %s has no waiting caller", reply.request_id)
            return False
        if isinstance(reply, CompletionReady):
            if reply.sequence in stream.sequences:
                log.info("completion reply %d of request %s delivered again; dropped", reply.sequence,
                         reply.request_id)
                return False
            stream.sequences.add(reply.sequence)
        if isinstance(reply, CompletionReady | EmbeddingsReady | RequestFailed):
            stream.answering = True
        stream.queue.put_nowait(reply)
        return True

    def backlog(self) -> Backlog:
        """Open requests without their first completion (or error) yet, and how long the oldest
        has waited: the backlog of inference and the filter as this replica's callers feel it."""
        waiting = [stream.opened_at for stream in self._waiting.values() if not stream.answering]
        return Backlog(len(waiting), time.monotonic() - waiting[0] if waiting else 0.0)

    @property
    def waiting(self) -> int:
        return len(self._waiting)
