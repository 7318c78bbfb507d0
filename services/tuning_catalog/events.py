"""A fine-tuning job's events (``GET /fine_tuning/jobs/{id}/events``), written in order, and the owner's
cancel, whose event is written before the status flips like every closing event: whoever reads the
job ``cancelled`` finds "The job was cancelled" among its events, at once."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Literal, TypeVar

from services.tuning_catalog.model import JobEvent, JobRecord
from services.tuning_catalog.ports import TuningCatalog

T = TypeVar("T")


async def cancel_job(catalog: TuningCatalog, resource_id: str, job_id: str, now: datetime) -> JobRecord | None:
    """The job, cancelled; None if it had finished (its cancel event is withdrawn then)."""
    events = JobEvents(catalog, resource_id, job_id, lambda: now)
    await events.resume()
    return await events.closing([("The job was cancelled", "info")],
                                lambda: catalog.cancel_job(resource_id, job_id, now))


class JobEvents:
    """Writes one job's events in order. Two writers may add to a job: its worker, and the owner's
    cancel (through the gateway); ``resume`` starts after the newest event either wrote."""

    def __init__(self, catalog: TuningCatalog, resource_id: str, job_id: str, clock: Callable[[], datetime]) -> None:
        self._catalog, self._resource, self._job, self._clock = catalog, resource_id, job_id, clock
        self._last = 0

    async def resume(self) -> None:
        newest = await self._catalog.list_events(self._resource, self._job, limit=1)
        if newest:
            self._last = max(self._last, newest[0].sequence)

    async def add(self, text: str, *, level: Literal["info", "warn", "error"] = "info",
                  kind: Literal["message", "metrics"] = "message",
                  data: dict[str, float | int | str] | None = None) -> JobEvent:
        # Microseconds since the epoch: ordered, and never below the last one (should the wall clock
        # step back); unique but for two writers in the same microsecond.
        sequence = self._last = max(time.time_ns() // 1000, self._last + 1)
        event = JobEvent(event_id=f"ftevent-{self._job.removeprefix('ftjob-')}-{sequence}", resource_id=self._resource,
                         job_id=self._job, sequence=sequence, created_at=self._clock(), level=level,
                         message=text, type=kind, data=data)
        await self._catalog.add_event(event)
        return event

    async def closing(self, messages: list[tuple[str, Literal["info", "warn", "error"]]],
                      finish: Callable[[], Awaitable[T]]) -> T:
        """A job's last events are written before its status flips, so whoever sees it finished sees them
        too; they are withdrawn if the flip loses (``finish`` gives nothing true: the job was cancelled or
        had finished, or another worker took it). What ``finish`` gave."""
        written = [await self.add(text, level=level) for text, level in messages]
        flipped = await finish()
        if not flipped:
            for event in written:
                await self._catalog.remove_event(event.resource_id, event.event_id)
        return flipped
