"""Readiness: a service is ready once each of its consumer-group subscribers owns partitions.

Then it logs "ready" and, if its settings name a ``ready_file``, writes it: the local stack
launcher and the Kubernetes readiness probe (an exec of ``test -f``) both read that file. From then
on the event loop touches the file every HEARTBEAT_S seconds: a loop that stops running (blocked, or
deadlocked) leaves it stale, which the liveness probe notices:

    python -m services.runtime.readiness /tmp/ready 60   (exit 1 when missing or older than 60 s)
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

HEARTBEAT_S = 10.0
_heartbeats: set[asyncio.Task[None]] = set()  # held so the tasks are not collected while they run


async def wait_for_assignments(subscribers: Iterable[Any], timeout_s: float = 60.0) -> None:
    async with asyncio.timeout(timeout_s):
        for subscriber in subscribers:
            while subscriber.consumer is None or not subscriber.consumer.assignment():
                await asyncio.sleep(0.05)


def ready_hook(service: str, ready_file: str | None, subscribers: list[Any]) -> Callable[[], Awaitable[None]]:
    log = logging.getLogger(f"residency.{service}")
    if ready_file:
        Path(ready_file).unlink(missing_ok=True)

    async def mark_ready() -> None:
        await wait_for_assignments(subscribers)
        if ready_file:
            Path(ready_file).write_text(str(os.getpid()))  # noqa: ASYNC240 - a few bytes, once, at start-up
            task = asyncio.create_task(_heartbeat(Path(ready_file)))
            _heartbeats.add(task)
            task.add_done_callback(_heartbeats.discard)
        log.info("ready")

    return mark_ready


async def _heartbeat(ready_file: Path) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_S)
        ready_file.touch()  # noqa: ASYNC240 - a timestamp update, no data


def is_alive(ready_file: Path, max_age_s: float) -> bool:
    try:
        return time.time() - ready_file.stat().st_mtime < max_age_s
    except FileNotFoundError:
        return False


if __name__ == "__main__":
    sys.exit(0 if is_alive(Path(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 60.0) else 1)
