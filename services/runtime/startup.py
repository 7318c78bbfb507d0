"""Start-up checks every service runs before it consumes."""

from __future__ import annotations

from typing import Any

from aiokafka.admin import AIOKafkaAdminClient


async def require_topics(bootstrap: str, topics: list[str], **client_options: Any) -> None:
    """Fail fast, and say how to fix it, when the project's topics were not created.
    ``client_options``: TLS/SASL (``settings.kafka_client_options()``)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options)
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
