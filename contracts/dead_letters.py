"""Topics ``<source topic>.dlq``: messages a consumer could not process, one DLQ per source topic.

The rule, the same for every consumer: a message that fails for a reason other than an
unavailable dependency is published, byte for byte with its original key and headers, to its
source topic's DLQ (same region namespace, same short retention), with ``dlq-*`` headers naming
the error; then its offset is committed. ``residency-dlq inspect|replay`` reads them.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from contracts.base import DLQ_SUFFIX, Contract, Count, dead_letter_topic

__all__ = ["DLQ_SUFFIX", "HEADERS", "DeadLetter", "dead_letter_topic"]

HEADERS = {
    "source_topic": "dlq-source-topic",
    "source_partition": "dlq-source-partition",
    "source_offset": "dlq-source-offset",
    "consumer": "dlq-consumer",
    "error_type": "dlq-error-type",
    "error": "dlq-error",
    "failed_at": "dlq-failed-at",
}


class DeadLetter(Contract):
    """What the ``dlq-*`` headers of a dead-lettered message say (its body is the original bytes)."""

    source_topic: str = Field(description="Topic the message was consumed from.")
    source_partition: Count = Field( description="Partition it was consumed from.")
    source_offset: Count = Field( description="Its offset there.")
    consumer: str = Field(description="Service and consumer group that failed on it.")
    error_type: str = Field(description="Exception class name.")
    error: str = Field(description="Error summary; never contains message content.")
    failed_at: datetime = Field(description="When it was dead-lettered (UTC).")

    def to_headers(self) -> dict[str, str]:
        return {HEADERS[name]: str(value if not isinstance(value, datetime) else value.isoformat())
                for name, value in self.model_dump().items()}

    @classmethod
    def from_headers(cls, headers: dict[str, str]) -> DeadLetter:
        return cls(**{name: headers[header] for name, header in HEADERS.items()})
