"""The ready file: written once the consumer groups own partitions, then kept fresh by the event loop
(the Kubernetes liveness probe of bus services fails when it goes stale)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from types import SimpleNamespace

from services.runtime import readiness


class AssignedConsumer:
    def assignment(self) -> set[str]:
        return {"partition-0"}


async def test_the_ready_file_is_written_once_assigned_and_touched_while_the_loop_runs(tmp_path: Path,
                                                                                       monkeypatch) -> None:
    monkeypatch.setattr(readiness, "HEARTBEAT_S", 0.05)
    ready_file = tmp_path / "ready"
    ready_file.write_text("stale, from a previous process")
    mark_ready = readiness.ready_hook("test", str(ready_file), [SimpleNamespace(consumer=AssignedConsumer())])
    assert not ready_file.exists()  # removed at start-up: not ready before the groups are assigned

    await mark_ready()
    assert ready_file.read_text() == str(os.getpid())
    os.utime(ready_file, (0, 0))
    assert not readiness.is_alive(ready_file, max_age_s=60)
    await asyncio.sleep(0.2)
    assert readiness.is_alive(ready_file, max_age_s=60), "the heartbeat must refresh the file while the loop runs"
    for task in list(readiness._heartbeats):
        task.cancel()


def test_a_missing_ready_file_is_not_alive(tmp_path: Path) -> None:
    assert not readiness.is_alive(tmp_path / "ready", max_age_s=60)
