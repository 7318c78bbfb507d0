"""Retention's process: the interactions subscriber, the periodic sweep, and (when configured)
the review API (mutual TLS) and the customer API, all on one event loop."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from faststream import FastStream

from contracts import interaction_records, stored_completion_requests
from contracts.interaction_records import InteractionCompleted
from contracts.stored_completion_requests import StoredCompletionsRequested
from services.retention import handlers
from services.retention.bootstrap import RetentionService, bootstrap
from services.retention.errors import RecordRefused
from services.retention.review.http_customer import customer_app
from services.retention.review.http_review import review_app
from services.retention.review.server import RunningServer, Tls, start_server
from services.retention.settings import RetentionSettings
from services.retention.stored import answer_query, store_completion
from services.retention.sweep import sweep_periodically
from services.retention.telemetry import tracer
from services.retention.topic_guard import require_short_content_retention
from services.runtime.bus import RawMessage
from services.runtime.dead_letters import dead_letter, is_retryable
from services.runtime.http_telemetry import HttpTelemetry
from services.runtime.service_app import ServiceWiring
from services.runtime.tracing import context_of_headers


def http_apps(service: RetentionService, settings: RetentionSettings) -> dict[str, FastAPI]:
    apps = {"review": review_app(service.review, service.directory),
            "customer": customer_app(service.customer, settings.customer_tokens)}
    for app in apps.values():
        app.add_middleware(HttpTelemetry, service="retention")
    return apps


async def start_http(service: RetentionService, settings: RetentionSettings) -> list[RunningServer]:
    apps = http_apps(service, settings)
    servers = []
    if settings.review_port is not None:
        review_tls = Tls(settings.review_tls_cert or "", settings.review_tls_key or "", settings.review_client_ca)
        servers.append(await start_server("review", apps["review"], settings.review_host, settings.review_port,
                                          review_tls))
    if settings.customer_port is not None:
        customer_tls = (Tls(settings.customer_tls_cert, settings.customer_tls_key)
                        if settings.customer_tls_cert else None)
        servers.append(await start_server("customer", apps["customer"], settings.customer_host,
                                          settings.customer_port, customer_tls))
    return servers


async def store_batch(records: tuple[Any, ...], service: RetentionService) -> None:
    """Each record prepared on its own: a poison record goes to the DLQ alone, and so does one the
    store refuses; an outage retries the batch (storing is idempotent, so what was stored before
    the outage is not stored twice)."""
    prepared: list[tuple[Any, dict[str, Any]]] = []
    for record in records:
        try:
            with tracer.start_as_current_span("retention.prepare", context=context_of_headers(record.headers)):
                event = InteractionCompleted.model_validate_json(record.value)
                stored = await handlers.prepare_record(event, service.ports)
            await store_completion(event, service.stored)  # store: true; idempotent, as the record
        except Exception as error:
            if is_retryable(error):
                raise
            await dead_letter(service.broker, record, service="retention", error=error)
            continue
        if stored is not None:
            prepared.append((record, stored))
    refused = await handlers.store_records([stored for _, stored in prepared], service.ports)
    for index, code in refused.items():
        await dead_letter(service.broker, prepared[index][0], service="retention", error=RecordRefused(code))


@dataclass
class Background:
    """What the process runs beside its subscriber: the periodic sweep and the HTTP servers."""

    sweep: asyncio.Task | None = None
    servers: list[RunningServer] = field(default_factory=list)

    async def start(self, service: RetentionService, settings: RetentionSettings) -> None:
        self.sweep = asyncio.create_task(sweep_periodically(service.sweep, settings.sweep_interval_s))
        self.servers = await start_http(service, settings)

    async def stop(self) -> None:
        for server in self.servers:
            await server.stop()
        if self.sweep is not None:
            self.sweep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.sweep


def create_app(settings: RetentionSettings, *, service: RetentionService | None = None, **overrides) -> FastStream:
    """The service's app; tests may pass a ``service`` they built with ``bootstrap`` (own clock)."""
    service = service or bootstrap(settings, **overrides)
    wiring = ServiceWiring("retention", settings, service.broker)
    background = Background()

    # Batches: the broker's offset commit costs more than storing a record, so one commit per
    # batch (after every record in it was stored or dead-lettered) instead of one per record; the
    # broker gathers ``batch_min_bytes`` (or waits the quiet fetch wait) before it answers a fetch.
    @wiring.group_subscriber(
        interaction_records.TOPIC, "retention", quiet=True, batch=True, max_records=settings.batch_max_records,
        batch_timeout_ms=50, fetch_min_bytes=settings.batch_min_bytes,
        description="Batches of InteractionCompleted (contracts/interaction_records.py); each message "
        "is validated on its own, so a malformed one is dead-lettered alone.")
    async def on_interactions(batch: RawMessage) -> None:
        await store_batch(batch.raw_message, service)

    # Quiet: the broker answers a fetch as soon as a query arrives; the fetch wait only bounds a
    # partition left out of a fetch while its records waited over 100 ms unconsumed (not with queries
    # this rare), and every idle fetch costs the service and the broker.
    @wiring.group_subscriber(
        stored_completion_requests.TOPIC, "retention-stored-completions", quiet=True,
        description="StoredCompletionsRequested (contracts/stored_completion_requests.py), answered on the "
        "gateway replies topic to the asking replica.")
    async def on_stored_completions(query: StoredCompletionsRequested) -> None:
        await service.replies.publish(await answer_query(query, service.stored))

    async def start() -> None:
        await require_short_content_retention(settings.kafka_bootstrap, settings.region,
                                              settings.content_topic_retention_ms, **settings.kafka_client_options())
        await service.store.create_indexes()
        await background.start(service, settings)

    async def stop() -> None:
        await background.stop()
        await service.store.close()

    return wiring.app(on_startup=[start], after_shutdown=[stop])
