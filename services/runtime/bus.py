"""The Kafka broker every service uses, and the publisher that keeps messages in their region.

Delivery is the same everywhere and not configurable downwards: ``acks=all`` and the idempotent
producer; subscribers commit an offset only after their handler (and so its publishes, each
awaited until the broker acknowledged it) finished.
"""

from __future__ import annotations

import asyncio
import logging
import time
from itertools import chain
from typing import Annotated, Any

from faststream import BaseMiddleware
from faststream._internal.context import Context  # the class (faststream.Context is a function making one)
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber
from faststream.middlewares import AckPolicy
from faststream.security import BaseSecurity
from opentelemetry.sdk.trace import TracerProvider
from pydantic import BaseModel

from contracts.base import ENVELOPE_HEADERS, Envelope, envelope_headers, message_key, region_of_topic, topic_name
from services.runtime.batches import deferring
from services.runtime.bus_telemetry import BusTelemetry
from services.runtime.dead_letters import dead_letter_middleware
from services.runtime.errors import RegionMismatch
from services.runtime.logs import bind_request_id
from services.runtime.settings import HANDLER_GRACE_S

# Commit after the handler returned; on an exception that escapes the dead-letter middleware
# (an unavailable dependency) seek back so the message is delivered again.
COMMIT_AFTER_HANDLER = AckPolicy.NACK_ON_ERROR


def make_broker(bootstrap: str, *, service: str, tracer_provider: TracerProvider | None = None,
                security: BaseSecurity | None = None) -> KafkaBroker:
    """``security``: TLS/SASL from the service's settings (``settings.kafka_security()``)."""
    broker = KafkaBroker(
        bootstrap,
        security=security,
        client_id=f"residency-{service}",
        acks="all",
        enable_idempotence=True,
        # Topics come from the registry with their retention (services.runtime.topics), never
        # from a client's default settings.
        allow_auto_create_topics=False,
        # Outermost first: the request ID for log lines, then the span (its context is current in the
        # handler, and what the handler publishes carries it on) and the message counts.
        middlewares=[RequestIdMiddleware, BusTelemetry(service=service, tracer_provider=tracer_provider)],
        logger=logging.getLogger(f"residency.{service}.bus"),
        graceful_timeout=HANDLER_GRACE_S,  # a handler in progress on SIGTERM finishes and commits
    )
    broker.add_middleware(dead_letter_middleware(broker, service=service))
    return broker


async def _next_batch(self: BatchSubscriber, consumer: Any) -> tuple[Any, ...]:
    """FastStream's batch poll, without its extra sleep after an empty poll.

    FastStream (0.7) sleeps ``batch_timeout_ms`` after every poll that found nothing, on top of the
    poll's own wait of that long: a message arriving during the sleep waits for it (up to 20 ms a
    hop for the filter's batches, measured as +30 ms on a one-client p50 through the bus). Here an
    empty poll that waited its time out returns at once (the loop polls again, and the poll itself
    returns as soon as records arrive); only one that came back early (no partitions assigned, say)
    sleeps out the rest, so an idle consumer never spins.
    """
    began = time.monotonic()
    messages = await consumer.getmany(timeout_ms=self.batch_timeout_ms, max_records=self.max_records)
    if not messages:
        left = self.batch_timeout_ms / 1000 - (time.monotonic() - began)
        if left > 0:
            await asyncio.sleep(left)
        return ()
    return tuple(chain(*messages.values()))


BatchSubscriber.get_msg = _next_batch  # type: ignore[method-assign]


class _MessageOnTheLoop(Context):
    """FastStream's ``Context("message")``, resolved on the event loop.

    Its own ``use`` is a plain function, and fast_depends runs a plain custom field's ``use`` in a
    worker thread (anyio's ``to_thread``): a thread hop for every consumed message of a handler that
    asks for the raw message — 9 % of the gateway's profile samples under load, with the worker's
    wake-ups (``Condition.notify``) beside it. The lookup itself is a dictionary read.
    """

    async def use(self, /, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        resolved: dict[str, Any] = super().use(**kwargs)
        return resolved


RawMessage = Annotated[KafkaMessage, _MessageOnTheLoop("message")]
"""A handler's parameter for the consumed record itself (headers, key, body, a batch's records),
instead of ``faststream.kafka.annotations.KafkaMessage``."""


class RequestIdMiddleware(BaseMiddleware):
    """Binds the consumed message's request ID (its envelope header) for the log lines of its handling."""

    async def consume_scope(self, call_next: Any, msg: Any) -> Any:
        headers = getattr(msg, "headers", None) or {}
        bind_request_id(headers.get(ENVELOPE_HEADERS["request_id"]))
        return await call_next(msg)


class TopicPublisher:
    """Publishes one topic's messages of one region, keyed by resource ID (or by the field the
    registry names as the topic's key, e.g. ``file_id``).

    Refuses a message whose region is not the topic's: data of one region never reaches
    another region's topics, whatever a handler got wrong.
    """

    def __init__(self, broker: KafkaBroker, template: str, region: str, *,
                 schema: object | None = None, description: str | None = None,
                 key_field: str = "resource_id") -> None:
        self.topic = topic_name(template, region)
        self._key_field = key_field
        self.region = region
        self._publisher = broker.publisher(self.topic, schema=schema, description=description)

    async def publish(self, message: Envelope, *, headers: dict[str, str] | None = None) -> None:
        """Keyed by resource ID (or ``key_field``), with the envelope's routing headers; waits for
        the broker's acknowledgement, or inside a batch hands it to the batch's end."""
        check_region(message, self.topic)
        key = message_key(str(getattr(message, self._key_field)))
        all_headers = {**envelope_headers(message), **(headers or {})}
        pending = deferring()
        if pending is None:
            await self._publisher.publish(message, key=key, headers=all_headers)
        else:  # inside a batch (services.runtime.batches): its end waits for the acknowledgement
            pending.append(await self._publisher.publish(message, key=key, headers=all_headers, no_confirm=True))


def check_region(message: BaseModel, topic: str) -> None:
    region = getattr(message, "region", None)
    if region != region_of_topic(topic):
        raise RegionMismatch(f"message of region {region!r} refused on topic {topic!r}")
