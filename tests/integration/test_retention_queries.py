"""What the retention adapters ask the real store: every query and index leads with the resource ID
(a ``resource_id`` field first, or an ``_id`` that starts with it), except the few the README lists.
Every public method of every adapter is called once with pymongo's command monitoring on."""

from __future__ import annotations

import functools
import inspect
import uuid
from datetime import timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.monitoring import CommandFailedEvent, CommandListener, CommandStartedEvent, CommandSucceededEvent

from services.retention.adapters.mongo_region import MongoRegionStore
from tests.integration.test_retention_store_contracts import DAY, JAILBREAK, T0, data_key, entry, flag, grant, record

pytestmark = pytest.mark.mongo
RESOURCE = "contoso"
QUERIES = ("find", "update", "delete", "distinct", "aggregate", "count", "findAndModify", "createIndexes")

# The README's exceptions ("Storing"), each with its reason. Anything else must lead with the resource ID.
EXCEPTIONS = {
    # The sweep lists the resources that have data, then goes resource by resource.
    ("MongoRecordStore.delete_expired", "distinct"),
    ("MongoKeyStore.destroy_due", "distinct"),
    ("MongoFlagStore.delete_expired", "distinct"),
    ("MongoGrantStore.delete_expired", "distinct"),
    ("MongoPolicyStore.all_retention_days", "find"),
    # Reviewers list flags (IDs and rule names only) newest first, across resources.
    ("MongoFlagStore.create_indexes", "createIndexes"),
    ("MongoFlagStore.list_flags", "find"),
    # A grant is named by its own ID in the review API's URLs.
    ("MongoGrantStore.get_grant", "find"),
    ("MongoGrantStore.approve", "update"),
    # The audit log is one hash chain per region, read in sequence order.
    ("MongoAuditStore.create_indexes", "createIndexes"),
    ("MongoAuditStore.head", "find"),
    ("MongoAuditStore.entries", "find"),
    ("MongoAuditStore.entries_of_resource", "find"),
}


class Commands(CommandListener):
    """The query commands each adapter method sent, by ``Class.method``."""

    def __init__(self) -> None:
        self.current: str | None = None
        self.sent: dict[str, list[tuple[str, dict[str, Any]]]] = {}

    def started(self, event: CommandStartedEvent) -> None:
        if self.current and event.command_name in (*QUERIES, "insert"):
            self.sent.setdefault(self.current, []).append((event.command_name, dict(event.command)))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass

    def watch(self, adapter: Any) -> list[str]:
        """Label every public coroutine method of ``adapter``; returns their names."""
        names = []
        for name, method in inspect.getmembers(adapter, inspect.iscoroutinefunction):
            if name.startswith("_"):
                continue
            label = f"{type(adapter).__name__}.{name}"
            names.append(label)
            setattr(adapter, name, self._labelled(label, method))
        return names

    def _labelled(self, label: str, method: Any) -> Any:
        @functools.wraps(method)
        async def call(*args: Any, **kwargs: Any) -> Any:
            self.current = label
            try:
                return await method(*args, **kwargs)
            finally:
                self.current = None
        return call


def leading_fields(command: str, body: dict[str, Any]) -> list[tuple[str, Any]]:
    """The first (field, value) of each filter, pipeline match or index key in one command."""
    filters: list[dict[str, Any]] = {
        "find": lambda: [body.get("filter") or {}],
        "update": lambda: [u["q"] for u in body["updates"]],
        "delete": lambda: [d["q"] for d in body["deletes"]],
        "aggregate": lambda: [body["pipeline"][0].get("$match", {})],
        "distinct": lambda: [body.get("query") or {}],  # lists values across resources unless it names one
        "createIndexes": lambda: [dict(i["key"]) for i in body["indexes"]],
    }[command]()
    return [next(iter(f.items()), ("", None)) for f in filters]


def leads_with_resource(field: str, value: Any) -> bool:
    return field == "resource_id" or (field == "_id" and isinstance(value, str)
                                      and (value == RESOURCE or value.startswith(f"{RESOURCE}/")))


async def exercise(store: MongoRegionStore) -> None:
    """Every public method of every adapter, once, on one resource's data."""
    now = T0 + timedelta(days=40)
    signalled = record("req-query-1", results=JAILBREAK)
    for adapter in (store.records, store.keys, store.flags, store.grants, store.audit):
        await adapter.create_indexes()
    await store.records.put_records([signalled])
    await store.records.get_record(RESOURCE, "req-query-1")
    await store.records.signal_history(RESOURCE, T0 - timedelta(hours=1), T0, kind="jailbreak", end_user="user-1",
                                       limit=10)
    await store.records.mark_flagged(RESOURCE, ["req-query-1"], "flag-1", "rule-1")
    await store.records.count_resource(RESOURCE)
    await store.records.delete_completed_before(RESOURCE, DAY)
    await store.records.delete_expired(now)
    await store.records.delete_resource(RESOURCE)
    key = data_key()
    await store.keys.insert_key(key)
    await store.keys.active_key(RESOURCE, key.day)
    await store.keys.get_key(key.key_id)
    await store.keys.destroy_resource(RESOURCE, now, "retention lowered", day_start_before=DAY)
    await store.keys.destroy_due(now)
    await store.flags.raise_flag(flag("flag-1"))
    await store.flags.list_flags(10)
    await store.flags.delete_ended_before(RESOURCE, DAY)
    await store.flags.delete_expired(now)
    await store.flags.delete_resource(RESOURCE)
    await store.grants.insert_grant(grant("grant-1"))
    await store.grants.get_grant("grant-1")
    await store.grants.approve("grant-1", "bob", T0, T0 + timedelta(minutes=15))
    await store.grants.delete_expired(now)
    await store.grants.delete_resource(RESOURCE)
    await store.audit.insert_entry(entry(0))
    await store.audit.head("review/eu-west")
    await store.audit.entries("review/eu-west")
    await store.audit.entries_of_resource("review/eu-west", RESOURCE, 10)
    await store.policies.set_retention_days(RESOURCE, 7)
    await store.policies.retention_days(RESOURCE, fresh=True)
    await store.policies.all_retention_days()


async def test_every_query_and_index_leads_with_the_resource_id_but_the_listed_exceptions(infra) -> None:
    commands, database = Commands(), f"queries_{uuid.uuid4().hex[:12]}"
    store = MongoRegionStore(infra.mongo, database, event_listeners=[commands])
    methods = [m for adapter in (store.records, store.keys, store.flags, store.grants, store.audit, store.policies)
               for m in commands.watch(adapter)]
    try:
        await exercise(store)
    finally:
        await store.close()
        async with AsyncMongoClient(infra.mongo) as client:
            await client.drop_database(database)

    assert sorted(commands.sent) == sorted(methods), "every public adapter method was called and sent commands"
    not_leading = {(method, command) for method, sent in commands.sent.items() for command, body in sent
                   if command in QUERIES and not all(leads_with_resource(*f) for f in leading_fields(command, body))}
    assert not_leading - EXCEPTIONS == set(), "queries or indexes that do not lead with the resource ID"
    assert EXCEPTIONS - not_leading == set(), "listed exceptions that no longer happen: shorten the list and README"
