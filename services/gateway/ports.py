"""What the gateway handlers need from the outside world."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from contracts.base import Envelope
from contracts.embedding_requests import EmbedTexts
from contracts.generation_cancellations import CancelGeneration
from contracts.grounding_requests_v2 import GroundingRequested
from contracts.interaction_records import InteractionCompleted
from contracts.prompt_submissions import PromptSubmitted
from contracts.stored_completion_requests import StoredCompletionsRequested
from services.gateway.resources import KeySlot, Resource


class ResourceDirectory(Protocol):
    """Resources and their key hashes (the control-plane store)."""

    async def find_by_key_hash(self, key_hash: str) -> Resource | None: ...

    async def get(self, resource_id: str) -> Resource | None: ...

    async def create(self, resource: Resource, key_hashes: dict[KeySlot, str]) -> bool:
        """False if a resource with that ID exists."""

    async def replace(self, resource: Resource) -> bool: ...

    async def set_key_hash(self, resource_id: str, slot: KeySlot, key_hash: str) -> bool: ...

    async def delete(self, resource_id: str) -> bool: ...


class RequestBus(Protocol):
    """The region's request-path topics, as the gateway publishes to them."""

    async def submit_prompt(self, submission: PromptSubmitted) -> None: ...

    async def request_grounding(self, request: GroundingRequested) -> None: ...

    async def request_embeddings(self, request: EmbedTexts) -> None: ...

    async def cancel(self, command: CancelGeneration) -> None: ...

    async def record_interaction(self, record: InteractionCompleted) -> None: ...

    async def ask_stored_completions(self, request: StoredCompletionsRequested) -> None: ...


class ReplyStream(Protocol):
    async def next(self, timeout_s: float) -> Envelope:
        """The next reply of this request; raises TimeoutError."""


class ReplyInbox(Protocol):
    """Replies addressed to this replica, by request ID."""

    def open(self, request_id: str) -> AbstractContextManager[ReplyStream]: ...
