"""Stopped choices in this process's memory (generation events of one resource reach one replica)."""

from __future__ import annotations


class InMemoryStoppedChoices:
    def __init__(self) -> None:
        self._stopped: dict[str, set[int]] = {}

    def stop(self, request_id: str, index: int) -> None:
        self._stopped.setdefault(request_id, set()).add(index)

    def is_stopped(self, request_id: str, index: int) -> bool:
        return index in self._stopped.get(request_id, ())

    def forget(self, request_id: str) -> None:
        self._stopped.pop(request_id, None)
