"""Contract messages with real field values, and a recording publisher, for the unit tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contracts.common import ChatMessage, SamplingParams

REGION = "eu-west"
RESOURCE_ID = "contoso-eu"
REQUEST_ID = "req_0001-abcdef"
REPLY_TO = "gateway-replica-1"
MODEL = "echo-small"
CREATED_AT = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)


@dataclass
class Record:
    """The fields of an aiokafka ConsumerRecord that batch handlers and dead-lettering read."""

    value: bytes
    offset: int
    topic: str
    partition: int = 0
    key: bytes = RESOURCE_ID.encode()
    headers: tuple = ()


def envelope(**overrides: Any) -> dict[str, Any]:
    """The fields every request-scoped message carries, overridable one by one."""
    fields: dict[str, Any] = {
        "request_id": REQUEST_ID, "resource_id": RESOURCE_ID, "region": REGION,
        "deployment": "chat-prod", "created_at": CREATED_AT, "reply_to": REPLY_TO,
    }
    fields.update(overrides)
    return fields


def chat(*pairs: tuple[str, str]) -> list[ChatMessage]:
    """``chat(("system", "..."), ("user", "..."))`` as contract messages."""
    return [ChatMessage(role=role, content=content) for role, content in pairs]


def sampling(**overrides: Any) -> SamplingParams:
    return SamplingParams(**overrides)


class Recorder:
    """A publisher port that keeps what it was given, and logs it into a shared timeline."""

    def __init__(self, name: str, timeline: list[tuple[str, Any]] | None = None) -> None:
        self.name = name
        self.published: list[Any] = []
        self.timeline = timeline if timeline is not None else []

    async def publish(self, message: Any) -> None:
        self.published.append(message)
        self.timeline.append((self.name, message))
