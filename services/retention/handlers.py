"""What retention does with a finished interaction: seal its content and store it once."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bson import Binary

from contracts.interaction_records import InteractionCompleted
from services.retention.errors import WrongRegion
from services.retention.ports import ContentCipher, RecordStore, SealedContent

log = logging.getLogger("residency.retention.handlers")


@dataclass(frozen=True)
class RetentionPorts:
    store: RecordStore
    cipher: ContentCipher
    region: str
    retention: timedelta


def associated_data(resource_id: str, request_id: str) -> bytes:
    """Binds a ciphertext to its record: moved to another request or resource, it fails to open."""
    return f"residency/v1/{resource_id}/{request_id}".encode()


def sealed_to_document(sealed: SealedContent) -> dict[str, Any]:
    return {"alg": "AES-256-GCM", "key_id": sealed.key_id,
            "nonce": Binary(sealed.nonce), "ciphertext": Binary(sealed.ciphertext)}


def document_to_sealed(document: dict[str, Any]) -> SealedContent:
    return SealedContent(document["key_id"], bytes(document["nonce"]), bytes(document["ciphertext"]))


def build_record(event: InteractionCompleted, ports: RetentionPorts) -> dict[str, Any]:
    record: dict[str, Any] = {
        "_id": f"{event.resource_id}/{event.request_id}",
        "resource_id": event.resource_id,
        "request_id": event.request_id,
        "region": event.region,
        "deployment": event.deployment,
        "created_at": event.created_at,
        "completed_at": event.completed_at,
        "expires_at": event.completed_at + ports.retention,
        "status": event.status,
        "end_user": event.end_user,
        "content_logging": event.content_logging,
        "prompt_filter_results": event.prompt_filter_results,
        "completion_filter_results": event.completion_filter_results,
        "finish_reasons": event.finish_reasons,
        "citation_ids": event.citation_ids,
        "error_code": event.error_code,
        "usage": event.usage.model_dump() if event.usage else None,
        "content": None,
    }
    # Content logging off: not even an encrypted copy. The check is here as well as in the
    # gateway (which sends none), so a wrong producer cannot make the store keep content.
    if event.content_logging and (event.messages or event.completions):
        plaintext = json.dumps({"messages": [m.model_dump() for m in event.messages],
                                "completions": event.completions}).encode()
        sealed = ports.cipher.seal(plaintext, associated_data(event.resource_id, event.request_id))
        record["content"] = sealed_to_document(sealed)
    return record


async def store_interaction(event: InteractionCompleted, ports: RetentionPorts) -> None:
    if event.region != ports.region:
        raise WrongRegion(f"record of region {event.region} reached the {ports.region} store")
    inserted = await ports.store.put_record(build_record(event, ports))
    log.info("request %s of resource %s %s", event.request_id, event.resource_id,
             "stored" if inserted else "already stored")
