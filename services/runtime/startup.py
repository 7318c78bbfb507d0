"""Start-up checks every service runs before it consumes."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient


async def require_topics(bootstrap: str, topics: list[str]) -> None:
    """Fail fast, and say how to fix it, when the project's topics were not created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    missing = sorted(set(topics) - existing)
    if missing:
        raise SystemExit(
            f"topics missing: {', '.join(missing)}; create them with "
            "`just topics` (python -m services.runtime.topics --region <region>)")
