"""The one dead-letter rule of every consumer.

A message whose processing raises is either retried or dead-lettered:

- an unavailable dependency (a store, an engine or the broker is down: ``DependencyUnavailable``,
  connection errors, time-outs) is retried: the exception propagates, the subscriber seeks back
  and the message comes again after a pause. Nothing accepted is lost to an outage.
- anything else (a malformed message, a contract violation, a bug) is published byte for byte,
  with its key and headers, to ``<topic>.dlq`` with ``dlq-*`` headers naming the error, and its
  offset is committed so the partition moves on. ``residency-dlq`` inspects and replays them.
  When a caller waits for the message's request (``TopicSpec.caller_waits``), it is answered at
  once: a ``RequestFailed`` (500 ``internal_error`` naming the request ID) goes to the replica in
  the message's ``residency-reply-to`` header. The headers, set by every publisher, name request,
  resource and deployment, so even a body that does not parse can be answered.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from faststream import BaseMiddleware
from faststream.kafka import KafkaBroker
from pydantic import ValidationError
from pymongo.errors import AutoReconnect, ConnectionFailure

from contracts import gateway_replies
from contracts.base import ENVELOPE_HEADERS, message_key, region_of_topic, topic_name, utc_now
from contracts.common import ApiError
from contracts.dead_letters import DeadLetter, dead_letter_topic
from contracts.gateway_replies import RequestFailed
from contracts.registry import spec_of
from services.runtime.errors import DependencyUnavailable

log = logging.getLogger("residency.dead_letters")

RETRYABLE = (DependencyUnavailable, ConnectionError, TimeoutError, KafkaConnectionError,
             KafkaTimeoutError, AutoReconnect, ConnectionFailure)
RETRY_PAUSE_S = 1.0


def is_retryable(error: BaseException) -> bool:
    return isinstance(error, RETRYABLE)


def dead_letter_for(record: Any, *, consumer: str, error: BaseException) -> DeadLetter:
    # The error text of a validation error can quote input values: keep only the type and
    # the locations, so customer content never reaches the DLQ headers.
    summary = _summarise(error)
    return DeadLetter(source_topic=record.topic, source_partition=record.partition,
                      source_offset=record.offset, consumer=consumer,
                      error_type=type(error).__name__, error=summary, failed_at=utc_now())


def _summarise(error: BaseException) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        try:
            return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['type']}" for e in errors())[:500]
        except Exception:  # noqa: BLE001 - a summary must never fail the dead-lettering
            pass
    return type(error).__name__


async def dead_letter(broker: KafkaBroker, record: Any, *, service: str, error: BaseException) -> None:
    """Publish one record byte for byte, with its key and headers, to its topic's DLQ."""
    letter = dead_letter_for(record, consumer=service, error=error)
    headers = {k: v.decode(errors="replace") for k, v in (record.headers or ())}
    headers.update(letter.to_headers())
    await broker.publish(record.value, dead_letter_topic(record.topic), key=record.key, headers=headers)
    log.error("dead-lettered %s[%s]@%s: %s", record.topic, record.partition, record.offset, letter.error_type)
    spec = spec_of(record.topic)
    if spec is not None and spec.caller_waits:
        await answer_caller(broker, record.topic, headers)


def failure_for_caller(topic: str, headers: dict[str, str]) -> RequestFailed | None:
    """The answer to the caller of a dead-lettered request, from its headers only; None if they
    do not name one (a message from before the headers, or not made by our publishers)."""
    fields = {name: headers.get(header) for name, header in ENVELOPE_HEADERS.items()}
    try:
        return RequestFailed(**fields, region=region_of_topic(topic), created_at=utc_now(), error=ApiError(
            status=500, type="server_error", code="internal_error",
            message=f"Internal error; request ID {fields['request_id']}."))
    except ValidationError:
        return None


async def answer_caller(broker: KafkaBroker, topic: str, headers: dict[str, str]) -> None:
    failure = failure_for_caller(topic, headers)
    if failure is None:
        log.warning("dead letter of %s names no caller to answer", topic)
        return
    replies = topic_name(gateway_replies.TOPIC, failure.region)
    await broker.publish(failure, replies, key=message_key(failure.resource_id),
                         headers={gateway_replies.REPLY_TO_HEADER: failure.reply_to})
    log.info("answered the caller of request %s (dead-lettered on %s)", failure.request_id, topic)


def dead_letter_middleware(broker: KafkaBroker, *, service: str) -> type[BaseMiddleware]:
    class DeadLetterMiddleware(BaseMiddleware):
        async def consume_scope(self, call_next: Any, msg: Any) -> Any:
            try:
                return await call_next(msg)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                # A batch subscriber's raw message is a tuple of records; it dead-letters its own
                # poison records one by one, so what escapes here concerns the whole batch.
                records = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
                if is_retryable(error):
                    first = records[0]
                    log.warning("retrying %s[%s]@%s (%d records) after %s", first.topic, first.partition,
                                first.offset, len(records), type(error).__name__)
                    await asyncio.sleep(RETRY_PAUSE_S)
                    raise
                for record in records:
                    await dead_letter(broker, record, service=service, error=error)
                return None

    return DeadLetterMiddleware
