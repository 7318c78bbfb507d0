"""What the filter handlers need from the outside world."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from contracts.base import Envelope
from contracts.common import FilterResults
from contracts.generation_cancellations import CancelGeneration
from contracts.generation_requests import GenerateCompletion
from contracts.prompt_submissions import PromptSubmitted


@dataclass(frozen=True)
class ScreenVerdict:
    """Azure-shaped results per category or detector, and whether the text must be stopped."""

    blocked: bool = False
    results: FilterResults = field(default_factory=dict)


class ContentScreen(Protocol):
    """Classifies text. Implementations keep nothing of what they screen."""

    async def screen_prompt(self, submission: PromptSubmitted) -> ScreenVerdict: ...

    async def screen_completion(self, resource_id: str, deployment: str, text: str) -> ScreenVerdict: ...


class GenerationRequests(Protocol):
    async def publish(self, command: GenerateCompletion) -> None: ...


class Cancellations(Protocol):
    async def publish(self, command: CancelGeneration) -> None: ...


class Replies(Protocol):
    """Replies to the gateway replica that holds the caller (GatewayReply messages)."""

    async def publish(self, reply: Envelope) -> None: ...


class StoppedChoices(Protocol):
    """Choices the filter cut mid-stream, by request ID, until the request's final event.

    A cancellation crosses the bus, so the engine may publish more text before it stops; that
    text must not reach the caller. Holds IDs only, never text.
    """

    def stop(self, request_id: str, index: int) -> None: ...

    def is_stopped(self, request_id: str, index: int) -> bool: ...

    def forget(self, request_id: str) -> None: ...
