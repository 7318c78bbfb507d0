"""One offset commit per fetched batch, with commit after publish kept.

A batch subscriber (``ServiceWiring.group_subscriber(..., batch=True)``) gets every record one
fetch returned for it. ``handle_batch`` runs the service's plain handler on each record in order,
as a one-message subscriber would: decoded into its contract, in a span continuing the record's
trace, its request ID bound for the log lines. What the handlers publish meanwhile is sent
without waiting for each acknowledgement (``deferred_acks``; the idempotent producer keeps each
partition's order) and every acknowledgement is awaited before the batch returns, so the one
commit FastStream makes after it still follows every publish. Per message, a hop then costs a
share of one commit and of one acknowledgement wait instead of one of each.

The dead-letter rule (services.runtime.dead_letters) per record: a record whose handling fails
for anything but an outage goes to the DLQ alone and the batch goes on. An outage (a retryable
error, or an acknowledgement that did not come) raises after every send was settled: the whole
batch comes again, the records handled before it included. ``on_outage`` gets those records'
messages first, so a handler that keeps state per request can forget what it did with them
(the filter's streams: services.filter.app).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from faststream.kafka import KafkaBroker
from opentelemetry import trace
from pydantic import BaseModel

from contracts.base import ENVELOPE_HEADERS
from services.runtime.dead_letters import dead_letter, is_retryable
from services.runtime.logs import bind_request_id
from services.runtime.tracing import context_of_headers

Message = TypeVar("Message", bound=BaseModel)

_unacknowledged: ContextVar[list[asyncio.Future[Any]] | None] = ContextVar("unacknowledged", default=None)
tracer = trace.get_tracer("residency.batches")


class AcknowledgementsMissing(ConnectionError):
    """A publish of the batch was not acknowledged by the broker (retryable: the batch comes again)."""


def deferring() -> list[asyncio.Future[Any]] | None:
    """The acknowledgements the current batch waits for, or None outside a batch (publish waits)."""
    return _unacknowledged.get()


@asynccontextmanager
async def deferred_acks() -> AsyncIterator[None]:
    """Publishes inside wait for no acknowledgement; leaving waits for all of them (also when the
    body raised, so no send is left unobserved) and raises ``AcknowledgementsMissing`` if one failed."""
    pending: list[asyncio.Future[Any]] = []
    token = _unacknowledged.set(pending)
    try:
        yield
    finally:
        _unacknowledged.reset(token)
        outcomes = await asyncio.gather(*pending, return_exceptions=True)
    failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    if failures:
        raise AcknowledgementsMissing(f"{len(failures)} of {len(pending)} publishes not acknowledged "
                                      f"({type(failures[0]).__name__})") from failures[0]


def _headers(record: Any) -> dict[str, str]:
    return {name: value.decode(errors="replace") for name, value in (record.headers or ()) if value is not None}


async def handle_batch(records: Sequence[Any], contract: type[Message],
                       handle: Callable[[Message], Awaitable[None]], *, broker: KafkaBroker, service: str,
                       on_outage: Callable[[list[Message]], None] | None = None) -> None:
    """Handle each record of a fetched batch in order, then wait for every publish (module docstring)."""
    handled: list[Message] = []
    try:
        async with deferred_acks():
            for record in records:
                headers = _headers(record)
                bind_request_id(headers.get(ENVELOPE_HEADERS["request_id"]))
                try:
                    # Named and kinded as the bus's span of a single message (its batch span
                    # starts a trace of its own, linked to the records'), so the request's trace
                    # runs on through this hop.
                    # Attributes only for a span that records (as the bus's own spans).
                    with tracer.start_as_current_span(f"{record.topic} process", context=context_of_headers(headers),
                                                      kind=trace.SpanKind.CONSUMER) as span:
                        if span.is_recording():
                            span.set_attributes({
                                "messaging.system": "kafka", "messaging.destination.name": record.topic,
                                "messaging.kafka.destination.partition": record.partition,
                                "messaging.kafka.message.offset": record.offset})
                        message = contract.model_validate_json(record.value)
                        handled.append(message)
                        await handle(message)
                except Exception as error:
                    if is_retryable(error):
                        raise
                    await dead_letter(broker, record, service=service, error=error)
                # The producer's sender runs between records, so the first replies leave before the
                # batch's last record is handled.
                await asyncio.sleep(0)
    except Exception as error:
        if is_retryable(error) and on_outage is not None:
            on_outage(handled)
        raise
