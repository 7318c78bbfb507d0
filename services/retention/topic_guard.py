"""The bus is not a second store of content: retention refuses to start while a content topic of
its region (or its dead-letter twin) keeps messages longer than ``content_topic_retention_ms``."""

from __future__ import annotations

from typing import Any

from contracts.registry import TOPICS
from services.runtime.topics import retention_of


async def overlong_content_topics(bootstrap: str, region: str, limit_ms: int,
                                  **client_options: Any) -> dict[str, int]:
    """Content topics of ``region`` whose retention exceeds ``limit_ms`` (or is unlimited, -1)."""
    names = [n for spec in TOPICS if spec.carries_content for n in (spec.name(region), spec.dlq_name(region))]
    retention = await retention_of(bootstrap, names, **client_options)
    return {name: ms for name, ms in retention.items() if ms < 0 or ms > limit_ms}


async def require_short_content_retention(bootstrap: str, region: str, limit_ms: int, **client_options: Any) -> None:
    overlong = await overlong_content_topics(bootstrap, region, limit_ms, **client_options)
    if overlong:
        listed = ", ".join(f"{name} ({ms} ms)" for name, ms in sorted(overlong.items()))
        raise SystemExit(f"content topics keep messages longer than {limit_ms} ms: {listed}; "
                         "run `just topics` with a shorter --content-retention-ms")
