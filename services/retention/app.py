"""Retention's subscriber: finished interactions of its region, in one consumer group."""

from __future__ import annotations

from faststream import FastStream
from faststream.specification import AsyncAPI

from contracts import interaction_records
from contracts.base import topic_name
from contracts.interaction_records import InteractionCompleted
from services.retention import handlers
from services.retention.bootstrap import bootstrap
from services.retention.settings import RetentionSettings
from services.runtime.bus import COMMIT_AFTER_HANDLER
from services.runtime.readiness import ready_hook
from services.runtime.startup import require_topics


def create_app(settings: RetentionSettings, **overrides) -> FastStream:
    broker, ports = bootstrap(settings, **overrides)
    records_topic = topic_name(interaction_records.TOPIC, settings.region)

    interaction_subscriber = broker.subscriber(
        records_topic, group_id=f"{settings.region}.retention",
        auto_offset_reset="earliest", ack_policy=COMMIT_AFTER_HANDLER)

    @interaction_subscriber
    async def on_interaction(event: InteractionCompleted) -> None:
        await handlers.store_interaction(event, ports)

    async def prepare() -> None:
        await require_topics(settings.kafka_bootstrap, [records_topic])
        create_indexes = getattr(ports.store, "create_indexes", None)
        if create_indexes:
            await create_indexes()

    ready = ready_hook("retention", settings.ready_file, [interaction_subscriber])
    async def close_store() -> None:
        close = getattr(ports.store, "close", None)
        if close:
            await close()

    return FastStream(broker, on_startup=[prepare], after_startup=[ready], after_shutdown=[close_store],
                      specification=AsyncAPI(broker, title="Residency retention", version="1"))
