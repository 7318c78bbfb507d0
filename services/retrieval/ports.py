"""What the retrieval handlers need from the outside world."""

from __future__ import annotations

from typing import Any, Protocol

from contracts.base import Envelope
from contracts.grounding_requests_v2 import ConnectionDataSource
from contracts.prompt_submissions import PromptSubmitted
from services.connections.model import DataConnection


class Connections(Protocol):
    """The region's registered data connections (control-plane store), read by resource."""

    async def get(self, resource_id: str, name: str) -> DataConnection | None: ...


class CustomerDocuments(Protocol):
    """Reads candidate documents from the customer's collection; keeps nothing."""

    async def candidates(self, connection: DataConnection, source: ConnectionDataSource, terms: list[str],
                         limit: int) -> list[dict[str, Any]]:
        """Documents whose content fields contain any of ``terms``, at most ``limit`` and within the
        adapter's byte caps. Raises DataSourceUnavailable, CredentialsUnreadable or ConnectionRefused."""
        ...


class PromptSubmissions(Protocol):
    async def publish(self, submission: PromptSubmitted) -> None: ...


class Replies(Protocol):
    async def publish(self, reply: Envelope) -> None: ...
