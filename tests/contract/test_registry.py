"""The registry matches the code: every topic's producers and consumers are the services that
publish and subscribe to it in their FastStream wiring, and every contract module is registered."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import pytest
from pydantic import BaseModel

import contracts
from contracts import embedding_requests, generation_cancellations, tuning_jobs, tuning_model_deletions
from contracts.base import Envelope, topic_name
from contracts.registry import SERVICES, TOPICS, topics_of
from services.ops.asyncapi_docs import broker_of
from services.runtime.dead_letters import dead_letter_middleware
from tests.contract.snapshots import breaking_changes

REGION = "eu-west"
NOT_TOPICS = {"base", "common", "registry", "dead_letters"}


@pytest.fixture(scope="module")
def wiring() -> dict[str, tuple[set[str], set[str]]]:
    """service -> (topics it subscribes to, topics it publishes to)."""
    result = {}
    for service in SERVICES:
        broker = broker_of(service)
        subscribed = {getattr(t, "name", t) for s in broker.subscribers for t in s.topics}
        published = {p.topic for p in broker.publishers}
        result[service] = (subscribed, published)
    return result


@pytest.mark.parametrize("spec", TOPICS, ids=lambda s: s.template)
def test_producers_and_consumers_are_those_in_code(spec, wiring) -> None:
    topic = spec.name(REGION)
    consumers = {s for s, (subscribed, _) in wiring.items() if topic in subscribed}
    producers = {s for s, (_, published) in wiring.items() if topic in published}
    assert consumers == set(spec.consumers)
    assert producers == set(spec.producers)


def test_every_service_dead_letters_through_the_shared_rule(wiring) -> None:
    expected = dead_letter_middleware(None, service="x").__qualname__  # type: ignore[arg-type]
    for service in SERVICES:
        names = [getattr(m, "__qualname__", type(m).__qualname__) for m in broker_of(service).config.broker_middlewares]
        assert expected in names, service


def test_every_topic_module_is_registered() -> None:
    modules = {m.name for m in pkgutil.iter_modules(contracts.__path__)} - NOT_TOPICS
    registered = {s.module.__name__.rsplit(".", 1)[1] for s in TOPICS}
    assert modules == registered


def test_only_cancellations_jobs_and_model_deletions_carry_no_customer_content() -> None:
    # Content topics get the short content retention; a topic wrongly marked content-free
    # would keep prompts for a day. A job names files and hyperparameters, never their content.
    assert {s.module for s in TOPICS if not s.carries_content} == {
        generation_cancellations, tuning_jobs, tuning_model_deletions}
    job_fields = set(tuning_jobs.TrainFineTuningJob.model_fields) - set(Envelope.model_fields)
    assert job_fields == {"kind", "job_id", "model", "training_file", "validation_file", "hyperparameters", "seed",
                          "fine_tuned_model"}


class Old(BaseModel):
    a: int
    b: str = "x"
    kind: str = "one"


def test_the_snapshot_rule_catches_breaking_changes() -> None:
    old = Old.model_json_schema()

    class Removed(BaseModel):
        a: int

    class Retyped(BaseModel):
        a: str
        b: str = "x"
        kind: str = "one"

    class NewRequired(BaseModel):
        a: int
        b: str = "x"
        kind: str = "one"
        c: int

    class Additive(BaseModel):
        a: int
        b: str = "x"
        kind: str = "one"
        c: int | None = None

    assert breaking_changes(old, Removed.model_json_schema()) == ["b: removed", "kind: removed"]
    assert breaking_changes(old, Retyped.model_json_schema()) == ["a: type changed"]
    assert breaking_changes(old, NewRequired.model_json_schema()) == ["c: newly required"]
    assert breaking_changes(old, Additive.model_json_schema()) == []


def test_the_committed_bus_documents_are_current(tmp_path) -> None:
    from services.ops.asyncapi_docs import write

    docs = Path(__file__).resolve().parents[2] / "docs"
    for fresh in write(tmp_path / "asyncapi"):
        committed = docs / fresh.relative_to(tmp_path)
        assert committed.exists() and committed.read_text() == fresh.read_text(), \
            f"{committed} is stale: run `just docs`"


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_requires_at_start_exactly_the_topics_it_uses(service, wiring) -> None:
    """Start-up checks come from the registry (topics_of), and match the service's real wiring: the
    gateway's check once missed the embeddings topic it publishes to."""
    subscribed, published = wiring[service]
    assert {topic_name(t, REGION) for t in topics_of(service)} == subscribed | published
    if service == "gateway":
        assert embedding_requests.TOPIC in topics_of("gateway")
