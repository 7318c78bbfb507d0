"""What the retrieval handlers need from the outside world."""

from __future__ import annotations

from typing import Any, Protocol

from contracts.base import Envelope
from contracts.grounding_requests import MongoDataSource
from contracts.prompt_submissions import PromptSubmitted


class CustomerDocuments(Protocol):
    """Reads candidate documents from the customer's collection; keeps nothing."""

    async def candidates(self, source: MongoDataSource, terms: list[str], limit: int) -> list[dict[str, Any]]:
        """Documents whose content fields contain any of ``terms``. Raises DataSourceUnavailable."""


class PromptSubmissions(Protocol):
    async def publish(self, submission: PromptSubmitted) -> None: ...


class Replies(Protocol):
    async def publish(self, reply: Envelope) -> None: ...
