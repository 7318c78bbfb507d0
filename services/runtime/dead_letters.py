"""The one dead-letter rule of every consumer.

A message whose processing raises is either retried or dead-lettered:

- an unavailable dependency (a store, an engine or the broker is down: ``DependencyUnavailable``,
  connection errors, time-outs) is retried: the exception propagates, the subscriber seeks back
  and the message comes again after a pause. Nothing accepted is lost to an outage.
- anything else (a malformed message, a contract violation, a bug) is published byte for byte,
  with its key and headers, to ``<topic>.dlq`` with ``dlq-*`` headers naming the error, and its
  offset is committed so the partition moves on. ``residency-dlq`` inspects and replays them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from faststream import BaseMiddleware
from faststream.kafka import KafkaBroker
from pymongo.errors import AutoReconnect, ConnectionFailure

from contracts.base import utc_now
from contracts.dead_letters import DeadLetter, dead_letter_topic
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
