"""Streaming state in this process's memory (generation events of one resource reach one replica)."""

from __future__ import annotations

from collections import OrderedDict

from services.filter.streaming import RequestStream

RECENTLY_SETTLED = 50_000


class InMemoryStreamStates:
    """Request ID -> state of its stream; dropped on the final event. A restarted filter starts empty.

    The IDs of the last ``RECENTLY_SETTLED`` answered requests are kept (IDs only, nothing of their
    text): an event that arrives after its request's answer (another attempt's) is dropped.
    """

    def __init__(self, recently_settled: int = RECENTLY_SETTLED) -> None:
        self._states: dict[str, RequestStream] = {}
        self._settled: OrderedDict[str, None] = OrderedDict()
        self._limit = recently_settled

    def get(self, request_id: str) -> RequestStream | None:
        return self._states.get(request_id)

    def put(self, request_id: str, state: RequestStream) -> None:
        self._states[request_id] = state

    def drop(self, request_id: str) -> None:
        self._states.pop(request_id, None)
        self._settled[request_id] = None
        self._settled.move_to_end(request_id)
        while len(self._settled) > self._limit:
            self._settled.popitem(last=False)

    def forget(self, request_id: str) -> None:
        self._states.pop(request_id, None)
        self._settled.pop(request_id, None)

    def settled(self, request_id: str) -> bool:
        return request_id in self._settled

    def __len__(self) -> int:
        return len(self._states)
