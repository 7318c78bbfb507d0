"""The stored record: what is kept in clear (IDs, times, filter results, signals) and the sealed
content (messages and completions), bound to its resource and request by associated data."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bson import Binary

from contracts.interaction_records import InteractionCompleted
from services.retention.flagging import kind_of, signals_of
from services.retention.model import SealedContent, SignalRecord

ALGORITHM = "AES-256-GCM"


def associated_data(resource_id: str, request_id: str) -> bytes:
    """Binds a ciphertext to its record: moved to another request or resource, it fails to open."""
    return f"residency/v1/{resource_id}/{request_id}".encode()


def record_id(resource_id: str, request_id: str) -> str:
    return f"{resource_id}/{request_id}"


def content_plaintext(event: InteractionCompleted) -> bytes | None:
    """The content to seal, or None. Content logging off: not even an encrypted copy. Checked
    here as well as in the gateway (which sends none), so a wrong producer cannot make the
    store keep content."""
    if not event.content_logging or not (event.messages or event.completions):
        return None
    return json.dumps({"messages": [m.model_dump() for m in event.messages],
                       "completions": event.completions}).encode()


def sealed_to_document(sealed: SealedContent) -> dict[str, Any]:
    return {"alg": ALGORITHM, "key_id": sealed.key_id,
            "nonce": Binary(sealed.nonce), "ciphertext": Binary(sealed.ciphertext)}


def document_to_sealed(document: dict[str, Any]) -> SealedContent:
    return SealedContent(document["key_id"], bytes(document["nonce"]), bytes(document["ciphertext"]))


def build_record(event: InteractionCompleted, *, expires_at: datetime, retention_days: int,
                 content: SealedContent | None) -> dict[str, Any]:
    signals = signals_of([*event.prompt_filter_results, *event.completion_filter_results])
    return {
        "_id": record_id(event.resource_id, event.request_id),
        "resource_id": event.resource_id,
        "request_id": event.request_id,
        "region": event.region,
        "deployment": event.deployment,
        "created_at": event.created_at,
        "completed_at": event.completed_at,
        "expires_at": expires_at,
        "retention_days": retention_days,
        "status": event.status,
        "end_user": event.end_user,
        "content_logging": event.content_logging,
        "prompt_filter_results": event.prompt_filter_results,
        "completion_filter_results": event.completion_filter_results,
        "signals": list(signals),
        "signal_kinds": sorted({kind_of(s) for s in signals}),
        "has_signals": bool(signals),
        "flagged": False,
        "flag_ids": [],
        "flag_rules": [],
        "finish_reasons": event.finish_reasons,
        "citation_ids": event.citation_ids,
        "error_code": event.error_code,
        "usage": event.usage.model_dump() if event.usage else None,
        "content": sealed_to_document(content) if content else None,
    }


def signal_record_of(record: dict[str, Any]) -> SignalRecord:
    return SignalRecord(request_id=record["request_id"], end_user=record.get("end_user"),
                        completed_at=record["completed_at"], signals=tuple(record["signals"]),
                        expires_at=record["expires_at"], flagged_by=tuple(record.get("flag_rules", ())))
