"""Streaming state in this process's memory (generation events of one resource reach one replica)."""

from __future__ import annotations

from services.filter.streaming import RequestStream


class InMemoryStreamStates:
    """Request ID -> state of its stream; dropped on the final event. A restarted filter starts empty."""

    def __init__(self) -> None:
        self._states: dict[str, RequestStream] = {}

    def get(self, request_id: str) -> RequestStream | None:
        return self._states.get(request_id)

    def put(self, request_id: str, state: RequestStream) -> None:
        self._states[request_id] = state

    def drop(self, request_id: str) -> None:
        self._states.pop(request_id, None)

    def __len__(self) -> int:
        return len(self._states)
