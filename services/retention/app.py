"""Retention's subscriber: finished interactions of its region, in one consumer group."""

from __future__ import annotations

from faststream import FastStream

from contracts import interaction_records
from contracts.interaction_records import InteractionCompleted
from services.retention import handlers
from services.retention.bootstrap import bootstrap
from services.retention.settings import RetentionSettings
from services.runtime.service_app import ServiceWiring


def create_app(settings: RetentionSettings, **overrides) -> FastStream:
    broker, ports = bootstrap(settings, **overrides)
    wiring = ServiceWiring("retention", settings, broker)

    @wiring.group_subscriber(interaction_records.TOPIC, "retention")
    async def on_interaction(event: InteractionCompleted) -> None:
        await handlers.store_interaction(event, ports)

    async def create_indexes() -> None:
        if hasattr(ports.store, "create_indexes"):
            await ports.store.create_indexes()

    async def close_store() -> None:
        if hasattr(ports.store, "close"):
            await ports.store.close()

    return wiring.app(topics=[interaction_records.TOPIC], on_startup=[create_indexes], after_shutdown=[close_store])
