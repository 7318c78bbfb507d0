"""What retention does with finished interactions: seal their content, store each once, flag them.

The bus subscriber hands over a batch: each interaction is prepared (checked, sealed) on its own,
so one bad message is dead-lettered alone; the prepared records are then stored together.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from contracts.interaction_records import InteractionCompleted
from services.retention.errors import RecordRefused, WrongRegion
from services.retention.flagging import Rule, evaluate
from services.retention.keyring import Keyring
from services.retention.ports import Clock, FlagStore, PolicyStore, RecordStore
from services.retention.records import associated_data, build_record, content_plaintext, signal_record_of
from services.retention.telemetry import FLAGS, count_stored
from services.retention.window import window_end

log = logging.getLogger("residency.retention.handlers")


@dataclass(frozen=True)
class RetentionPorts:
    records: RecordStore
    keyring: Keyring
    policies: PolicyStore
    flags: FlagStore
    clock: Clock
    region: str
    max_retention_days: int
    rules: tuple[Rule, ...]


async def retention_days_of(resource_id: str, ports: RetentionPorts) -> int:
    """The resource's own retention if it set one, never more than the service's maximum."""
    days = await ports.policies.retention_days(resource_id)
    return min(days or ports.max_retention_days, ports.max_retention_days)


async def prepare_record(event: InteractionCompleted, ports: RetentionPorts) -> dict[str, Any] | None:
    """The record to store, content sealed; None if the event arrived after its window closed."""
    if event.region != ports.region:
        raise WrongRegion(f"record of region {event.region} reached the {ports.region} store")
    days = await retention_days_of(event.resource_id, ports)
    expires_at = window_end(event.completed_at, days)
    if expires_at <= ports.clock():
        # A replayed or long-delayed event: its window (and its day's key) is already gone.
        log.warning("request %s of resource %s arrived after its retention window; not stored",
                    event.request_id, event.resource_id)
        return None
    content = None
    plaintext = content_plaintext(event)
    if plaintext is not None:
        content, key_destroyed_at = await ports.keyring.seal(
            event.resource_id, event.completed_at, days, plaintext,
            associated_data(event.resource_id, event.request_id))
        # A day's key keeps the window it was made with: a lowered retention shortens the
        # record's window at once, a raised one applies from the next day's key.
        expires_at = min(expires_at, key_destroyed_at)
    return build_record(event, expires_at=expires_at, retention_days=days, content=content)


async def store_records(records: Sequence[dict[str, Any]], ports: RetentionPorts) -> Mapping[int, int]:
    """Store the records, flag those with signals; returns the ones the store refused (index ->
    error code), which the caller dead-letters. An outage raises: the whole batch comes again."""
    if not records:
        return {}
    stored = await ports.records.put_records(records)
    count_stored(len(records), stored.inserted, len(stored.refused))
    log.info("%d of %d records new, %d refused by the store", stored.inserted, len(records), len(stored.refused))
    for index, record in enumerate(records):
        if index in stored.refused:
            log.error("request %s of resource %s refused by the store (code %d)", record["request_id"],
                      record["resource_id"], stored.refused[index])
        elif record["has_signals"]:
            # Also after a duplicate delivery: flag IDs are deterministic, so a crash between
            # storing and flagging is repaired by the redelivery.
            await raise_flags(record, ports)
    return stored.refused


async def store_interaction(event: InteractionCompleted, ports: RetentionPorts) -> None:
    record = await prepare_record(event, ports)
    refused = await store_records([record] if record else [], ports)
    if refused:
        raise RecordRefused(refused[0])


async def raise_flags(record: dict[str, Any], ports: RetentionPorts) -> None:
    trigger = signal_record_of(record)
    resource_id = record["resource_id"]
    for rule in ports.rules:
        if not rule.applies_to(trigger):
            continue
        history = await ports.records.signal_history(
            resource_id, trigger.completed_at - rule.window, trigger.completed_at, kind=rule.kind,
            end_user=trigger.end_user if rule.scope == "end_user" else None, limit=rule.history_limit)
        flag = evaluate(rule, resource_id, trigger, history, ports.clock())
        if flag is None:
            continue
        await ports.records.mark_flagged(resource_id, flag.request_ids, flag.flag_id, rule.name)
        if await ports.flags.raise_flag(flag):
            FLAGS.labels(flag.rule).inc()
            log.warning("flag %s raised on resource %s: %d records", flag.rule, resource_id, len(flag.request_ids))
