"""Hand-written fakes of the gateway's ports, and the replies the downstream services would send.

``InMemoryResourceDirectory`` is the control-plane store; it remembers every hash it was asked
for, so tests can show that keys are looked up by hash only. ``ScriptedBus`` records every
message the gateway publishes and answers a request by delivering replies to the gateway's
inbox on the next loop iteration, as the replies consumer would.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from contracts.base import Envelope
from contracts.common import ApiError, Usage
from contracts.gateway_replies import (
    CompletionReady,
    EmbeddingsReady,
    PromptAnnotation,
    PromptScreened,
    ReplyChoice,
    RequestFailed,
    StoredCompletionsFound,
)
from contracts.generation_cancellations import CancelGeneration
from contracts.interaction_records import InteractionCompleted
from services.gateway.app import create_app
from services.gateway.resources import KEY_SLOTS, Deployment, KeySlot, Resource
from services.gateway.settings import GatewaySettings
from tests.unit.builders import CREATED_AT, MODEL, REGION
from tests.unit.connection_fakes import InMemoryDataConnections, TableResolver
from tests.unit.tuning_fakes import InMemoryTuningCatalog, RecordingPublisher

ADMIN_KEY = "admin-secret-of-the-unit-tests-0123456789"
# Customer servers the fake resolver knows: a public address, and names that resolve privately.
CUSTOMER_HOSTS = {"docs.contoso.example": ["93.184.216.34"], "internal.contoso.example": ["10.1.2.3"],
                  "rebind.example": ["93.184.216.35", "169.254.169.254"]}
SAFE = {c: {"filtered": False, "severity": "safe"} for c in ("hate", "sexual", "violence", "self_harm")}
USAGE = Usage(prompt_tokens=9, completion_tokens=4, total_tokens=13)

Answer = Callable[[Any], list[Envelope]]


def sha256_hex(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class InMemoryResourceDirectory:
    """services.gateway.ports.ResourceDirectory in a dict."""

    def __init__(self) -> None:
        self.resources: dict[str, Resource] = {}
        self.key_hashes: dict[str, dict[KeySlot, str]] = {}
        self.looked_up: list[str] = []

    def add(self, resource_id: str, *, region: str = REGION, content_logging: bool = True,
            deployments: tuple[str, ...] = ("chat-prod",)) -> str:
        """A resource with the given deployments; returns its key1 (key2 is key1 reversed)."""
        key = f"key-of-{resource_id}"
        self.resources[resource_id] = Resource(
            resource_id=resource_id, region=region, content_logging=content_logging, created_at=CREATED_AT,
            deployments=[Deployment(name=name, model=MODEL) for name in deployments])
        self.key_hashes[resource_id] = {"key1": sha256_hex(key), "key2": sha256_hex(key[::-1])}
        return key

    async def find_by_key_hash(self, key_hash: str) -> Resource | None:
        self.looked_up.append(key_hash)
        owner = next((rid for rid, slots in self.key_hashes.items() if key_hash in slots.values()), None)
        return self.resources.get(owner) if owner else None

    async def get(self, resource_id: str) -> Resource | None:
        return self.resources.get(resource_id)

    async def create(self, resource: Resource, key_hashes: dict[KeySlot, str]) -> bool:
        if resource.resource_id in self.resources:
            return False
        self.resources[resource.resource_id] = resource
        self.key_hashes[resource.resource_id] = {slot: key_hashes[slot] for slot in KEY_SLOTS}
        return True

    async def replace(self, resource: Resource) -> bool:
        if resource.resource_id not in self.resources:
            return False
        self.resources[resource.resource_id] = resource
        return True

    async def set_key_hash(self, resource_id: str, slot: KeySlot, key_hash: str) -> bool:
        if resource_id not in self.key_hashes:
            return False
        self.key_hashes[resource_id][slot] = key_hash
        return True

    async def delete(self, resource_id: str) -> bool:
        self.key_hashes.pop(resource_id, None)
        return self.resources.pop(resource_id, None) is not None


class ScriptedBus:
    """services.gateway.ports.RequestBus that records everything and answers with ``answer``."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.answer = answer
        self.stored: Answer = lambda request: [StoredCompletionsFound(**request.envelope())]
        self.inbox: Any = None  # set once the gateway (and so its inbox) exists
        self.published: list[Envelope] = []

    def _answer(self, request: Envelope) -> None:
        self.published.append(request)
        if self.answer is not None:
            loop = asyncio.get_running_loop()
            for reply in self.answer(request):
                loop.call_soon(self.inbox.deliver, reply)

    async def submit_prompt(self, submission: Envelope) -> None:
        self._answer(submission)

    async def ask_stored_completions(self, request: Envelope) -> None:
        """Retention's answer: ``stored`` (by default, no stored completions at all)."""
        self.published.append(request)
        loop = asyncio.get_running_loop()
        for reply in self.stored(request):
            loop.call_soon(self.inbox.deliver, reply)

    async def request_grounding(self, request: Envelope) -> None:
        self._answer(request)

    async def request_embeddings(self, request: Any) -> None:
        self.published.append(request)
        if self.answer is not None:
            vectors = [[0.5, -0.5, 0.25] for _ in request.inputs]
            reply = EmbeddingsReady(**request.envelope(), model=request.model, embeddings=vectors,
                                    prompt_tokens=sum(len(t.split()) for t in request.inputs))
            asyncio.get_running_loop().call_soon(self.inbox.deliver, reply)

    async def cancel(self, command: CancelGeneration) -> None:
        self.published.append(command)

    async def record_interaction(self, record: InteractionCompleted) -> None:
        self.published.append(record)

    def of_type(self, kind: type) -> list[Any]:
        return [m for m in self.published if isinstance(m, kind)]


def screened(request: Envelope) -> PromptScreened:
    return PromptScreened(**request.envelope(), prompt_filter_results=[PromptAnnotation(content_filter_results=SAFE)])


def completion(request: Envelope, *texts: str, sequence: int = 0, final: bool = True,
               finish_reason: str | None = "stop", usage: Usage | None = USAGE) -> CompletionReady:
    """One reply with ``texts[i]`` for choice i."""
    return CompletionReady(
        **request.envelope(), sequence=sequence, final=final, model=MODEL, usage=usage if final else None,
        choices=[ReplyChoice(index=i, text=t, finish_reason=finish_reason, content_filter_results=SAFE)
                 for i, t in enumerate(texts)])


def answer_hello(request: Any) -> list[Envelope]:
    """What the filter and inference send for a harmless prompt: annotations, then one final reply."""
    return [screened(request), completion(request, *(f"Hello {i}" for i in range(request.sampling.n)))]


def answer_in_pieces(request: Any) -> list[Envelope]:
    """A streamed answer: annotations, "Hel", then "lo" with the finish reason and usage."""
    return [screened(request), completion(request, "Hel", final=False, finish_reason=None),
            completion(request, "lo", sequence=1)]


def answer_failed(error: ApiError) -> Answer:
    return lambda request: [RequestFailed(**request.envelope(), error=error)]


@dataclass
class Harness:
    client: TestClient  # the public listener
    admin: TestClient  # the admin listener
    directory: InMemoryResourceDirectory
    bus: ScriptedBus
    keys: dict[str, str] = field(default_factory=dict)
    tuning_catalog: InMemoryTuningCatalog = field(default_factory=InMemoryTuningCatalog)
    tuning: RecordingPublisher = field(default_factory=RecordingPublisher)  # both tuning topics


def gateway(answer: Answer | None = answer_hello, **settings: Any) -> Harness:
    """The gateway app on fakes (lifespan not run: no Kafka, no MongoDB) with resources
    ``contoso`` (deployment chat-prod), ``fabrikam`` (deployment fab-only, same region),
    ``quiet`` (content logging off) and ``faraway`` (region us-east)."""
    directory, bus = InMemoryResourceDirectory(), ScriptedBus(answer)
    tuning_catalog, tuning_publisher = InMemoryTuningCatalog(), RecordingPublisher()
    keys = {"contoso": directory.add("contoso"), "fabrikam": directory.add("fabrikam", deployments=("fab-only",)),
            "quiet": directory.add("quiet", content_logging=False),
            "faraway": directory.add("faraway", region="us-east")}
    app = create_app(GatewaySettings(admin_key=ADMIN_KEY, region=REGION, **settings), resources=directory, bus=bus,
                     windows=InMemoryWindowCounter(), connections=InMemoryDataConnections(),
                     resolver=TableResolver(CUSTOMER_HOSTS), tuning_catalog=tuning_catalog,
                     tuning_publisher=tuning_publisher)
    bus.inbox = app.state.gateway.inbox
    return Harness(TestClient(app, raise_server_exceptions=False),
                   TestClient(app.state.admin, raise_server_exceptions=False), directory, bus, keys,
                   tuning_catalog=tuning_catalog, tuning=tuning_publisher)


class InMemoryWindowCounter:
    """Rate-limit windows in a dict: one process only (the real counter is in the shared store)."""

    def __init__(self) -> None:
        self.windows: dict[str, tuple[int, int]] = {}

    async def add(self, window: str, requests: int, tokens: int, *, expires_at: float) -> tuple[int, int]:
        used_requests, used_tokens = self.windows.get(window, (0, 0))
        self.windows[window] = (used_requests + requests, used_tokens + tokens)
        return self.windows[window]
