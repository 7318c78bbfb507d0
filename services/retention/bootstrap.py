"""Composition root of retention: real adapters by default, fakes from tests."""

from __future__ import annotations

import base64
from datetime import timedelta

from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from services.retention.adapters.mongo_records import MongoRecordStore
from services.retention.adapters.platform_cipher import PlatformKeyCipher
from services.retention.handlers import RetentionPorts
from services.retention.ports import ContentCipher, RecordStore
from services.retention.settings import RetentionSettings
from services.runtime.bus import make_broker
from services.runtime.tracing import make_tracer_provider


def bootstrap(settings: RetentionSettings, *, broker: KafkaBroker | None = None,
              store: RecordStore | None = None,
              cipher: ContentCipher | None = None) -> tuple[KafkaBroker, RetentionPorts]:
    broker = broker or make_broker(
        settings.kafka_bootstrap, service="retention",
        tracer_provider=make_tracer_provider("retention", settings.region, console=settings.otel_console))
    if store is None:
        client: AsyncMongoClient = AsyncMongoClient(settings.mongo_uri.get_secret_value(), tz_aware=True)
        store = MongoRecordStore(client, settings.database_name)
    cipher = cipher or PlatformKeyCipher(base64.b64decode(settings.platform_key.get_secret_value()),
                                         settings.platform_key_id)
    return broker, RetentionPorts(store=store, cipher=cipher, region=settings.region,
                                  retention=timedelta(days=settings.retention_days))
