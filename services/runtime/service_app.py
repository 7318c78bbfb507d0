"""Builds a bus service's FastStream app the same way for every service.

Group subscribers start from the earliest uncommitted offset and commit only after the handler
returned; fan-out subscribers (every replica reads everything) have no group. Before consuming,
the app checks that its topics exist; once its groups own partitions it reports ready. With
``METRICS_PORT`` set it serves ``/metrics`` from the start, consumer lag included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.middlewares import AckPolicy
from faststream.specification import AsyncAPI

from contracts.base import topic_name
from contracts.registry import TOPICS, topics_of
from services.runtime.bus import COMMIT_AFTER_HANDLER
from services.runtime.metrics import start_metrics_server, watch_consumer_lag
from services.runtime.readiness import ready_hook
from services.runtime.settings import ServiceSettings
from services.runtime.startup import require_topics

Hook = Callable[[], Awaitable[None]]


class ServiceWiring:
    def __init__(self, service: str, settings: ServiceSettings, broker: KafkaBroker) -> None:
        self.service = service
        self.settings = settings
        self.broker = broker
        self._groups: list[Any] = []
        self._lag_watch: asyncio.Task[None] | None = None

    def topic(self, template: str) -> str:
        return topic_name(template, self.settings.region)

    def _consumed(self, template: str) -> str:
        """The topic of a subscriber, which the registry must list this service as a consumer of:
        the wiring cannot drift from contracts/registry.py (start-up checks and docs derive from it)."""
        if not any(spec.template == template and self.service in spec.consumers for spec in TOPICS):
            raise ValueError(f"{self.service} subscribes to {template!r}, which contracts/registry.py "
                             f"does not list it as a consumer of")
        return self.topic(template)

    def _fetch_wait(self, quiet: bool) -> int:
        return self.settings.quiet_fetch_max_wait_ms if quiet else self.settings.fetch_max_wait_ms

    def group_subscriber(self, template: str, group: str, *, ack_policy: AckPolicy = COMMIT_AFTER_HANDLER,
                         quiet: bool = False, **options: Any) -> Any:
        """One consumer group per region and purpose: each message is handled by one replica.

        ``AckPolicy.MANUAL`` is for handlers that commit themselves (services.runtime.inflight);
        ``options`` go to FastStream (e.g. ``batch=True``: one commit per batch, after it).
        ``quiet``: a subscriber whose next message may wait (``quiet_fetch_max_wait_ms``).
        """
        subscriber = self.broker.subscriber(
            self._consumed(template), group_id=f"{self.settings.region}.{group}", auto_offset_reset="earliest",
            ack_policy=ack_policy, fetch_max_wait_ms=self._fetch_wait(quiet), **options)
        self._groups.append(subscriber)
        return subscriber

    def fanout_subscriber(self, template: str, *, quiet: bool = False) -> Any:
        """No group: every replica reads every message published from now on."""
        return self.broker.subscriber(self._consumed(template), auto_offset_reset="latest",
                                      fetch_max_wait_ms=self._fetch_wait(quiet))

    def app(self, *, on_startup: Sequence[Hook] = (), after_startup: Sequence[Hook] = (),
            on_shutdown: Sequence[Hook] = (), after_shutdown: Sequence[Hook] = ()) -> FastStream:
        """``after_startup`` hooks run once the broker consumes, before the service reports ready;
        ``on_shutdown`` hooks on SIGTERM while the broker still runs (drain what is in flight),
        ``after_shutdown`` ones once it stopped.
        Before consuming, every topic the registry says this service consumes or produces must exist."""
        async def check_topics() -> None:
            await require_topics(self.settings.kafka_bootstrap, [self.topic(t) for t in topics_of(self.service)],
                                 **self.settings.kafka_client_options())

        async def serve_metrics() -> None:
            start_metrics_server(self.settings.metrics_port, self.settings.metrics_host)

        async def watch_lag() -> None:
            self._lag_watch = asyncio.create_task(watch_consumer_lag(self.service, self._groups))

        async def stop_watching() -> None:
            if self._lag_watch is not None:
                self._lag_watch.cancel()

        ready = ready_hook(self.service, self.settings.ready_file, self._groups)
        return FastStream(self.broker, on_startup=[serve_metrics, check_topics, *on_startup],
                          after_startup=[*after_startup, ready, watch_lag],
                          on_shutdown=list(on_shutdown), after_shutdown=[stop_watching, *after_shutdown],
                          specification=AsyncAPI(self.broker, title=f"Residency {self.service}", version="1"))
