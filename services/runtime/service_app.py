"""Builds a bus service's FastStream app the same way for every service.

Group subscribers start from the earliest uncommitted offset and commit only after the handler
returned; fan-out subscribers (every replica reads everything) have no group. Before consuming,
the app checks that its topics exist; once its groups own partitions it reports ready.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.middlewares import AckPolicy
from faststream.specification import AsyncAPI

from contracts.base import topic_name
from contracts.registry import topics_of
from services.runtime.bus import COMMIT_AFTER_HANDLER
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

    def topic(self, template: str) -> str:
        return topic_name(template, self.settings.region)

    def group_subscriber(self, template: str, group: str, *, ack_policy: AckPolicy = COMMIT_AFTER_HANDLER,
                         **options: Any) -> Any:
        """One consumer group per region and purpose: each message is handled by one replica.

        ``AckPolicy.MANUAL`` is for handlers that commit themselves (services.runtime.inflight);
        ``options`` go to FastStream (e.g. ``batch=True``: one commit per batch, after it).
        """
        subscriber = self.broker.subscriber(
            self.topic(template), group_id=f"{self.settings.region}.{group}", auto_offset_reset="earliest",
            ack_policy=ack_policy, fetch_max_wait_ms=self.settings.fetch_max_wait_ms, **options)
        self._groups.append(subscriber)
        return subscriber

    def fanout_subscriber(self, template: str) -> Any:
        """No group: every replica reads every message published from now on."""
        return self.broker.subscriber(self.topic(template), auto_offset_reset="latest",
                                      fetch_max_wait_ms=self.settings.fetch_max_wait_ms)

    def app(self, *, on_startup: Sequence[Hook] = (), after_startup: Sequence[Hook] = (),
            on_shutdown: Sequence[Hook] = (), after_shutdown: Sequence[Hook] = ()) -> FastStream:
        """``after_startup`` hooks run once the broker consumes, before the service reports ready;
        ``on_shutdown`` hooks on SIGTERM while the broker still runs (drain what is in flight),
        ``after_shutdown`` ones once it stopped.
        Before consuming, every topic the registry says this service consumes or produces must exist."""
        async def check_topics() -> None:
            await require_topics(self.settings.kafka_bootstrap, [self.topic(t) for t in topics_of(self.service)])

        ready = ready_hook(self.service, self.settings.ready_file, self._groups)
        return FastStream(self.broker, on_startup=[check_topics, *on_startup], after_startup=[*after_startup, ready],
                          on_shutdown=list(on_shutdown), after_shutdown=list(after_shutdown),
                          specification=AsyncAPI(self.broker, title=f"Residency {self.service}", version="1"))
