"""What the retrieval handlers need from the outside world."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

import numpy as np

from contracts.base import Envelope
from contracts.grounding_requests_v2 import ConnectionDataSource, GroundingRequested
from contracts.prompt_submissions import PromptSubmitted
from services.connections.model import DataConnection
from services.retrieval.vector_index import CollectionMarker


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


    async def by_ids(self, connection: DataConnection, source: ConnectionDataSource,
                     ids: list[Any]) -> list[dict[str, Any]]:
        """The documents with these IDs, within the same caps."""
        ...

    def vectors(self, connection: DataConnection, source: ConnectionDataSource, vector_field: str,
                max_bytes: int) -> AsyncIterator[tuple[Any, Sequence[float] | np.ndarray]]:
        """Every document's ID and vector, for an in-memory index (no text is read)."""
        ...

    async def marker(self, connection: DataConnection, source: ConnectionDataSource) -> CollectionMarker:
        """The collection's document count and newest ID, to notice a change."""
        ...


class QueryEmbedder(Protocol):
    async def embed(self, request: GroundingRequested, queries: list[str]) -> list[list[float]]:
        """One vector per query, with the request's embedding deployment. Raises QueryEmbeddingFailed."""
        ...


class PromptSubmissions(Protocol):
    async def publish(self, submission: PromptSubmitted) -> None: ...


class Replies(Protocol):
    async def publish(self, reply: Envelope) -> None: ...
