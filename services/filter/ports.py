"""What the filter handlers need from the outside world."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from contracts.base import Envelope
from contracts.common import FilterResults
from contracts.generation_cancellations import CancelGeneration
from contracts.generation_requests import GenerateCompletion
from services.filter.policy import EffectivePolicy, Severity

if TYPE_CHECKING:
    from services.filter.streaming import RequestStream

TextKind = Literal["prompt", "instruction", "context", "document", "completion"]
"""prompt: a user message (categories, jailbreak); instruction: a system or developer message
(categories, jailbreak at a stricter threshold); context: an assistant message (categories);
document: a retrieved document or tool output (categories, indirect attack); completion: generated
text."""


@dataclass(frozen=True)
class ScreenedText:
    text: str
    kind: TextKind


@dataclass(frozen=True)
class PiiSpan:
    start: int
    end: int
    kind: str  # email, phone, credit_card, iban, ssn


@dataclass(frozen=True)
class Findings:
    """What one detector measured in one text. Holds labels and offsets, never text."""

    severities: Mapping[str, Severity] = field(default_factory=dict)  # category or harmful_request -> severity
    detected: Mapping[str, bool] = field(default_factory=dict)  # jailbreak, indirect_attack, profanity, pii
    blocklists: Mapping[str, bool] = field(default_factory=dict)  # blocklist ID -> matched
    pii_spans: tuple[PiiSpan, ...] = ()
    hazard: str | None = None  # harmful requests: the most likely hazard (services/filter/hazards.py)


class Detector(Protocol):
    """One layer of the screen (lexical, trained classifier, guard model).

    ``wanted`` says from the policy whether this detector has anything to do for a text kind, so a
    request pays only for what its policy asks. ``detect`` raises when it cannot give a verdict;
    the screen then applies the policy's fail-open or fail-closed rule.
    """

    name: str

    def wanted(self, kind: TextKind, policy: EffectivePolicy) -> bool: ...

    async def detect(self, text: str, kind: TextKind, policy: EffectivePolicy) -> Findings: ...


@dataclass(frozen=True)
class ScreenVerdict:
    """Azure-shaped results per category or detector, and whether the text must be stopped.

    ``redacted`` holds the screened texts with PII masked, in input order, when the policy redacts
    and something was found; the handler sends those on instead of the originals.
    """

    blocked: bool = False
    results: FilterResults = field(default_factory=dict)
    redacted: tuple[str, ...] | None = None


class ContentScreen(Protocol):
    """Classifies text under a policy. Implementations keep nothing of what they screen."""

    async def screen_prompt(self, texts: Sequence[ScreenedText], policy: EffectivePolicy) -> ScreenVerdict: ...

    async def screen_completion(self, text: str, policy: EffectivePolicy) -> ScreenVerdict: ...


class PolicySource(Protocol):
    """The content-filter policy of a resource's deployment (cached briefly; never keyed by content)."""

    async def policy_for(self, resource_id: str, deployment: str) -> EffectivePolicy: ...


class GenerationRequests(Protocol):
    async def publish(self, command: GenerateCompletion) -> None: ...


class Cancellations(Protocol):
    async def publish(self, command: CancelGeneration) -> None: ...


class Replies(Protocol):
    """Replies to the gateway replica that holds the caller (GatewayReply messages)."""

    async def publish(self, reply: Envelope) -> None: ...


class StreamStates(Protocol):
    """Per-request streaming state, in this process's memory only, keyed by request ID.

    Holds the text of a window not yet released or not yet screened, offsets, and which choices were
    cut. A cancellation crosses the bus, so the engine may publish more text before it stops; a cut
    choice's later text must not reach the caller. Dropped once the request is answered; never
    written to disk or logs. The IDs of recently answered requests are remembered (``settled``).
    """

    def get(self, request_id: str) -> RequestStream | None: ...

    def put(self, request_id: str, state: RequestStream) -> None: ...

    def drop(self, request_id: str) -> None:
        """The request is answered: its state goes, its ID is remembered as settled."""

    def forget(self, request_id: str) -> None:
        """Neither state nor settled: the request's events come again (a batch that met an outage)
        and are taken as if never seen — from its first event the stream starts over, with the same
        reply sequence numbers (the gateway drops those it has); from a later one it is answered
        as interrupted. Never text released twice or out of order."""

    def settled(self, request_id: str) -> bool:
        """Whether the request was answered recently (a later event of it is not for the caller)."""
