"""A handler's raw message is resolved on the event loop: no worker-thread hop per message."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.runtime.bus import RawMessage


async def _thread_hops(monkeypatch: pytest.MonkeyPatch, annotation: Any) -> tuple[int, dict[str, str]]:
    hops = 0
    run_sync = anyio.to_thread.run_sync

    async def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal hops
        hops += 1
        return await run_sync(*args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    broker = KafkaBroker()
    seen: dict[str, str] = {}

    async def handler(message: annotation) -> None:  # type: ignore[valid-type]
        seen.update(message.headers)

    broker.subscriber("eu-west.t.v1")(handler)
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(b"{}", "eu-west.t.v1", headers={"residency-reply-to": "r1"})
    return hops, seen


async def test_the_raw_message_reaches_the_handler_without_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    hops, seen = await _thread_hops(monkeypatch, RawMessage)
    assert seen.get("residency-reply-to") == "r1"
    assert hops == 0


async def test_faststreams_own_annotation_would_hop_to_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Why RawMessage exists: if this ever passes with 0 hops, FastStream resolves it on the loop too."""
    hops, seen = await _thread_hops(monkeypatch, KafkaMessage)
    assert seen.get("residency-reply-to") == "r1"
    assert hops >= 1
