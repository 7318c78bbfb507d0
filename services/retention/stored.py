"""Stored completions (``store: true``): kept for the caller, sealed, in the region's store.

Why retention: it already keeps sealed, region-pinned content for at most 30 days and destroys
keys to make it unreadable; a stored completion is the same kind of thing with another owner
(the customer, not abuse monitoring). So it reuses the keyring (per resource and day data keys,
destroyed by the sweep at the end of the window) under a purpose key of its own, in collections
of its own (``stored_completions``, ``stored_completion_keys``): a reviewer's grant never opens a
stored completion and an abuse-monitoring record never opens with a stored completion's key.
Content logging off does not stop it: the customer asked for this copy. A resource's lowered
abuse-monitoring retention does not shorten it either: stored completions live 30 days or
until deleted.

The gateway asks over the bus (``contracts.stored_completion_requests``); the answers go to the
asking replica (``StoredCompletionsFound``, or ``RequestFailed`` 404). Every query names the
resource: another resource's completions are not found, as if they did not exist.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from contracts.base import Envelope
from contracts.common import ApiError
from contracts.gateway_replies import RequestFailed, StoredCompletionsFound
from contracts.interaction_records import InteractionCompleted
from contracts.stored_completion_requests import StoredCompletionsRequested
from services.retention.errors import WrongRegion
from services.retention.keyring import Keyring
from services.retention.model import SealedContent
from services.retention.ports import Clock
from services.retention.window import window_end

log = logging.getLogger("residency.retention.stored")


@dataclass(frozen=True)
class StoredRecord:
    """A stored completion as the store keeps it: IDs, filters and dates in clear, content sealed."""

    resource_id: str
    completion_id: str
    model: str
    metadata: dict[str, str]
    created_at: datetime
    expires_at: datetime
    content: SealedContent


@dataclass(frozen=True)
class Page:
    records: list[StoredRecord]
    has_more: bool


class StoredCompletionStore(Protocol):
    """The region's stored completions; every call names the resource."""

    async def put(self, record: StoredRecord) -> bool:
        """False if it was stored before (a redelivery)."""

    async def find(self, resource_id: str, completion_id: str) -> StoredRecord | None: ...

    async def page(self, resource_id: str, *, model: str | None, metadata: dict[str, str], after: str | None,
                   limit: int, descending: bool) -> Page: ...

    async def set_metadata(self, resource_id: str, completion_id: str, metadata: dict[str, str]) -> bool: ...

    async def delete(self, resource_id: str, completion_id: str) -> bool: ...

    async def delete_expired(self, now: datetime) -> int: ...

    async def delete_resource(self, resource_id: str) -> int: ...


@dataclass(frozen=True)
class StoredPorts:
    store: StoredCompletionStore
    keyring: Keyring  # under the stored-completions purpose key, on its own key collection
    clock: Clock
    region: str
    days: int = 30


def associated_data(resource_id: str, completion_id: str) -> bytes:
    return f"residency/stored-completion/v1/{resource_id}/{completion_id}".encode()


async def store_completion(event: InteractionCompleted, ports: StoredPorts) -> bool:
    """Seal and keep the completion the caller asked to store; False if there is none or it is known."""
    stored = event.stored
    if stored is None:
        return False
    if event.region != ports.region:
        raise WrongRegion(f"stored completion of region {event.region} reached the {ports.region} store")
    if window_end(event.completed_at, ports.days) <= ports.clock():
        return False
    plaintext = json.dumps({"messages": [m.model_dump() for m in stored.messages],
                            "response": stored.response}).encode()
    content, destroy_at = await ports.keyring.seal(event.resource_id, event.completed_at, ports.days, plaintext,
                                                   associated_data(event.resource_id, stored.completion_id))
    record = StoredRecord(resource_id=event.resource_id, completion_id=stored.completion_id, model=stored.model,
                          metadata=dict(stored.metadata), created_at=event.created_at, expires_at=destroy_at,
                          content=content)
    return await ports.store.put(record)


async def _opened(record: StoredRecord, ports: StoredPorts) -> dict[str, Any]:
    plaintext = await ports.keyring.open(record.resource_id, record.content,
                                         associated_data(record.resource_id, record.completion_id))
    content: dict[str, Any] = json.loads(plaintext)
    return content


async def _completion_body(record: StoredRecord, ports: StoredPorts) -> str:
    body = json.loads((await _opened(record, ports))["response"])
    body["metadata"] = record.metadata
    return json.dumps(body, ensure_ascii=False)


def _not_found(query: StoredCompletionsRequested) -> RequestFailed:
    return RequestFailed(**query.envelope(), error=ApiError(
        status=404, type="invalid_request_error", code="not_found", param="completion_id",
        message=f"No stored chat completion found with id '{query.completion_id}'."))


async def answer_query(query: StoredCompletionsRequested, ports: StoredPorts) -> Envelope:
    """The answer to one stored-completions request of a resource."""
    resource_id = query.resource_id
    if query.operation == "list":
        page = await ports.store.page(resource_id, model=query.model, metadata=dict(query.metadata),
                                      after=query.after, limit=query.limit, descending=query.order == "desc")
        items = [await _completion_body(r, ports) for r in page.records if r.expires_at > ports.clock()]
        return StoredCompletionsFound(**query.envelope(), items=items, has_more=page.has_more)
    record = await ports.store.find(resource_id, query.completion_id or "")
    if record is None or record.expires_at <= ports.clock():
        return _not_found(query)
    if query.operation == "delete":
        deleted = await ports.store.delete(resource_id, record.completion_id)
        log.info("stored completion %s of resource %s deleted", record.completion_id, resource_id)
        return StoredCompletionsFound(**query.envelope(), deleted=deleted)
    if query.operation == "update":
        await ports.store.set_metadata(resource_id, record.completion_id, dict(query.metadata))
        record = StoredRecord(**{**record.__dict__, "metadata": dict(query.metadata)})
    if query.operation in ("get", "update"):
        return StoredCompletionsFound(**query.envelope(), items=[await _completion_body(record, ports)])
    return StoredCompletionsFound(**query.envelope(), **_messages_page(record, await _opened(record, ports), query))


def _messages_page(record: StoredRecord, content: dict[str, Any], query: StoredCompletionsRequested) -> dict[str, Any]:
    messages = []
    for index, message in enumerate(content["messages"]):
        body = {"id": f"{record.completion_id}-{index}", "role": message["role"], "content": message["content"],
                "name": message.get("name")}
        if message.get("tool_calls"):
            body["tool_calls"] = [{"id": c["id"], "type": "function",
                                   "function": {"name": c["name"], "arguments": c["arguments"]}}
                                  for c in message["tool_calls"]]
        if message.get("tool_call_id"):
            body["tool_call_id"] = message["tool_call_id"]
        messages.append(body)
    if query.order == "desc":
        messages.reverse()
    ids = [m["id"] for m in messages]
    start = ids.index(query.after) + 1 if query.after in ids else 0
    chosen = messages[start:start + query.limit]
    return {"items": [json.dumps(m, ensure_ascii=False) for m in chosen],
            "has_more": start + query.limit < len(messages)}


async def sweep_stored(ports: StoredPorts) -> tuple[int, int]:
    """Keys first (what is left is unreadable), then the expired documents."""
    keys = await ports.keyring.destroy_due()
    deleted = await ports.store.delete_expired(ports.clock())
    return keys, deleted

