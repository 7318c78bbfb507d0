"""What every message on the bus shares: strictness, the envelope, topic names and keys.

Topic names read ``<region>.<domain>.<noun>.v<N>``: the region comes first, so one region's data
has its own topics and ACLs and can never share a topic with another region. The message key is
the resource ID, so one resource's messages in one region stay ordered on one partition.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

REGION_PATTERN = r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$"
_REGION_RE = re.compile(REGION_PATTERN)

Region = Annotated[str, StringConstraints(pattern=REGION_PATTERN)]
ResourceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")]
RequestId = Annotated[str, StringConstraints(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]

# Every integer on the bus fits in a signed 64-bit integer: the codec (orjson) and the consumers
# (vLLM, MongoDB) take nothing wider. A field without a tighter range declares this one.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
Count = Annotated[int, Field(ge=0, le=INT64_MAX)]


class Contract(BaseModel):
    """Base of every bus message: strict and immutable."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Envelope(Contract):
    """Fields every request-scoped message carries. W3C trace context travels in Kafka headers."""

    schema_version: Literal[1] = Field(1, description="Version of this message's schema within its topic.")
    request_id: RequestId = Field(description="The caller-visible request ID (x-request-id, apim-request-id).")
    resource_id: ResourceId = Field(description="The tenant resource that owns the request; also the message key.")
    region: Region = Field(description="Region the resource lives in; must equal the topic's region.")
    deployment: str = Field(min_length=1, max_length=64, description="Deployment name the caller addressed.")
    created_at: datetime = Field(description="When the gateway accepted the request (UTC).")
    reply_to: str = Field(
        min_length=1, max_length=64,
        description="ID of the gateway replica holding the caller's connection; replies are routed to it.",
    )

    def envelope(self) -> dict[str, object]:
        """The envelope fields, to start the next message of the same request."""
        return {name: getattr(self, name) for name in ENVELOPE_FIELDS}


ENVELOPE_FIELDS = ("request_id", "resource_id", "region", "deployment", "created_at", "reply_to")

# The envelope's routing fields also travel as Kafka headers, set by the publisher on every
# message: a consumer that cannot parse a body can still answer the request's caller.
ENVELOPE_HEADERS = {"request_id": "residency-request-id", "resource_id": "residency-resource-id",
                    "deployment": "residency-deployment", "reply_to": "residency-reply-to"}


def envelope_headers(message: Envelope) -> dict[str, str]:
    """The Kafka headers naming a message's request, resource, deployment and reply replica."""
    return {header: getattr(message, name) for name, header in ENVELOPE_HEADERS.items()}


def utc_now() -> datetime:
    return datetime.now(UTC)


def validate_region(region: str) -> str:
    if not _REGION_RE.match(region):
        raise ValueError(f"invalid region name {region!r}: lower-case letters, digits and '-', 3-32 chars")
    return region


def topic_name(template: str, region: str) -> str:
    """Fill a ``{region}.<domain>.<noun>.v<N>`` template for one region."""
    return template.format(region=validate_region(region))


def region_of_topic(topic: str) -> str:
    """The region a topic belongs to (its first dotted segment)."""
    return topic.split(".", 1)[0]


def message_key(resource_id: str) -> bytes:
    """Partition key of every message: the resource ID."""
    return resource_id.encode()


DLQ_SUFFIX = ".dlq"


def dead_letter_topic(topic: str) -> str:
    """The dead-letter topic of a source topic: same region namespace, ``.dlq`` appended."""
    return topic + DLQ_SUFFIX
