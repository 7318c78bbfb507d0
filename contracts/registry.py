"""Every topic of the platform: who produces it, who consumes it, what it carries, how long it lives.

The topic admin (``services.runtime.topics``) creates exactly these topics, with these settings,
per region; ``tests/contract`` checks that each has a snapshot, a producer and a consumer in code.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from pydantic import BaseModel, TypeAdapter

from contracts import (
    dead_letters,
    embedding_requests,
    gateway_replies,
    generation_cancellations,
    generation_events,
    generation_requests,
    grounding_requests_v2,
    interaction_records,
    prompt_submissions,
    query_embeddings,
    stored_completion_requests,
    tuning_files,
    tuning_jobs,
    tuning_model_deletions,
)
from contracts.base import topic_name

SERVICES = ("gateway", "filter", "inference", "retrieval", "retention", "tuning")
DLQ_TOOL = "residency-dlq"


@dataclass(frozen=True)
class TopicSpec:
    """One topic family: the same topic exists once per region."""

    module: ModuleType
    messages: tuple[type[BaseModel], ...]
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    carries_content: bool
    # A caller waits for the request this topic carries: a dead letter of it answers the caller
    # at once (services.runtime.dead_letters) instead of leaving it to its time-out.
    caller_waits: bool = False
    partitions: int = 6
    key: str = "resource_id"
    # Retention of topics without customer content; content topics use the configured
    # content retention instead (default one hour), so the bus never becomes a second store.
    retention_ms_without_content: int = 24 * 3600 * 1000

    @property
    def template(self) -> str:
        template: str = self.module.TOPIC  # every topic's module names its template TOPIC
        return template

    def name(self, region: str) -> str:
        return topic_name(self.template, region)

    def dlq_name(self, region: str) -> str:
        return dead_letters.dead_letter_topic(self.name(region))


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(grounding_requests_v2, (grounding_requests_v2.GroundingRequested,),
              producers=("gateway",), consumers=("retrieval",), carries_content=True, caller_waits=True),
    TopicSpec(prompt_submissions, (prompt_submissions.PromptSubmitted,),
              producers=("gateway", "retrieval"), consumers=("filter",), carries_content=True, caller_waits=True),
    TopicSpec(generation_requests, (generation_requests.GenerateCompletion,),
              producers=("filter",), consumers=("inference",), carries_content=True, caller_waits=True),
    TopicSpec(generation_events, (generation_events.CompletionGenerated,),
              producers=("inference",), consumers=("filter",), carries_content=True, caller_waits=True),
    TopicSpec(generation_cancellations, (generation_cancellations.CancelGeneration,),
              producers=("gateway", "filter"), consumers=("inference",), carries_content=False),
    TopicSpec(embedding_requests, (embedding_requests.EmbedTexts,),
              producers=("gateway", "retrieval"), consumers=("inference",), carries_content=True, caller_waits=True),
    TopicSpec(gateway_replies,
              (gateway_replies.GroundingFound, gateway_replies.PromptScreened,
               gateway_replies.CompletionReady, gateway_replies.EmbeddingsReady,
               gateway_replies.StoredCompletionsFound, gateway_replies.RequestFailed, gateway_replies.FileContentChunk),
              producers=("retrieval", "filter", "inference", "retention", "tuning"), consumers=("gateway",),
              carries_content=True),
    TopicSpec(query_embeddings, (query_embeddings.EmbeddingsReady, query_embeddings.RequestFailed),
              producers=("inference",), consumers=("retrieval",), carries_content=True),
    TopicSpec(interaction_records, (interaction_records.InteractionCompleted,),
              producers=("gateway",), consumers=("retention",), carries_content=True),
    # Keyed by file ID: one file's chunks in order on one partition (see contracts/tuning_files.py).
    TopicSpec(tuning_files, (tuning_files.FileChunkUploaded, tuning_files.FileUploadCompleted,
                             tuning_files.FileUploadAborted, tuning_files.ReadFileContent, tuning_files.DeleteFile),
              producers=("gateway",), consumers=("tuning",), carries_content=True, key="file_id"),
    # No content (IDs, hyperparameters): a day's retention, so a job queued behind others is not lost.
    # Inference (every replica, no group) starts its adapter engine when a job is queued.
    TopicSpec(tuning_jobs, (tuning_jobs.TrainFineTuningJob,),
              producers=("gateway",), consumers=("tuning", "inference"), carries_content=False),
    # Tuning shreds the adapter (a group); every inference replica unloads it (no group).
    TopicSpec(tuning_model_deletions, (tuning_model_deletions.DeleteFineTunedModel,),
              producers=("gateway",), consumers=("tuning", "inference"), carries_content=False),
    TopicSpec(stored_completion_requests, (stored_completion_requests.StoredCompletionsRequested,),
              producers=("gateway",), consumers=("retention",), carries_content=True, caller_waits=True),
)

# Topics no longer produced or consumed; the topic admin deletes them (and their DLQs) because
# what they hold must not outlive them: v1 grounding requests carried database passwords in clear.
RETIRED_TOPICS: tuple[str, ...] = ("{region}.retrieval.grounding-requests.v1",)

GATEWAY_REPLY: TypeAdapter[gateway_replies.GatewayReply] = TypeAdapter(gateway_replies.GatewayReply)


def topics_of(service: str) -> list[str]:
    """The topic templates a service consumes or produces, as the registry declares them: what its
    start-up check requires (derived here, never listed again in the service)."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    return [spec.template for spec in TOPICS if service in spec.producers or service in spec.consumers]


def retired_topic_names(region: str) -> list[str]:
    """Retired topics of a region and their DLQs."""
    names: list[str] = []
    for template in RETIRED_TOPICS:
        name = topic_name(template, region)
        names += [name, dead_letters.dead_letter_topic(name)]
    return names


def spec_of(topic: str) -> TopicSpec | None:
    """The registry entry of a concrete topic name (any region), or None."""
    region = topic.split(".", 1)[0]
    return next((spec for spec in TOPICS if _named(spec, region) == topic), None)


def _named(spec: TopicSpec, region: str) -> str | None:
    try:
        return spec.name(region)
    except ValueError:  # not a region name: no topic of ours
        return None


def all_topic_names(region: str) -> list[str]:
    """Every topic of a region, DLQs included, in registry order."""
    names: list[str] = []
    for spec in TOPICS:
        names += [spec.name(region), spec.dlq_name(region)]
    return names
