"""What the gateway's files and fine-tuning routes use: the region's fine-tuning catalogue
(records only; the gateway holds no key and stores no content), the two tuning topics, and the
reply inbox that a file's content comes back through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from faststream.kafka import KafkaBroker
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings
from pymongo import AsyncMongoClient

from contracts import tuning_files, tuning_jobs, tuning_model_deletions
from contracts.base import Envelope
from services.runtime.bus import TopicPublisher
from services.runtime.reply_inbox import InMemoryReplyInbox
from services.tuning_catalog.mongo import MongoTuningCatalog
from services.tuning_catalog.ports import TuningCatalog

DEFAULT_TUNABLE_MODELS = ("smollm2-135m-instruct",)


class TuningEdgeSettings(BaseSettings):
    """Mixed into GatewaySettings (env prefix RESIDENCY_GATEWAY_)."""

    files_max_bytes: int = Field(64 << 20, ge=1024, description=(
        "Largest uploaded file (64 MiB; the chat routes' limit is MAX_BODY_BYTES, 1 MiB)."))
    files_chunk_bytes: int = Field(tuning_files.MAX_CHUNK_BYTES, ge=1024, le=tuning_files.MAX_CHUNK_BYTES,
                                   description="Bytes per chunk message of an upload on the tuning files topic.")
    tuning_mongo_uri: SecretStr | None = Field(None, description=(
        "The region's store holding the fine-tuning catalogue (default: MONGO_URI)."))
    tuning_database: str = Field("residency_tuning", description="Database of the fine-tuning catalogue.")
    tunable_models: list[str] = Field(default_factory=lambda: list(DEFAULT_TUNABLE_MODELS),
                                      description="Base models a fine-tuning job may name.")
    file_read_timeout_s: float = Field(30.0, gt=0, description="Longest wait for the next piece of a file's content.")


class Publisher(Protocol):
    async def publish(self, message: Envelope) -> None: ...


@dataclass(frozen=True)
class TuningEdge:
    catalog: TuningCatalog
    files: Publisher
    jobs: Publisher
    deletions: Publisher  # fine-tuned models
    inbox: InMemoryReplyInbox
    region: str
    replica_id: str
    settings: TuningEdgeSettings


def build_tuning_edge(settings: TuningEdgeSettings, *, broker: KafkaBroker, inbox: InMemoryReplyInbox, region: str,
                      replica_id: str, mongo_uri: SecretStr, store_timeout_ms: int,
                      catalog: TuningCatalog | None = None, publisher: Publisher | None = None) -> TuningEdge:
    """Real adapters by default; unit tests pass a fake catalogue and one fake publisher for both topics."""
    if catalog is None:
        uri = (settings.tuning_mongo_uri or mongo_uri).get_secret_value()
        client: AsyncMongoClient = AsyncMongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=store_timeout_ms)
        catalog = MongoTuningCatalog(client[settings.tuning_database])
    if publisher is not None:
        return TuningEdge(catalog=catalog, inbox=inbox, region=region, replica_id=replica_id, settings=settings,
                          files=publisher, jobs=publisher, deletions=publisher)
    return TuningEdge(
        catalog=catalog, inbox=inbox, region=region, replica_id=replica_id, settings=settings,
        files=TopicPublisher(broker, tuning_files.TOPIC, region, key_field="file_id",
                             description="Uploaded files' chunks and lifecycle, keyed by file ID."),
        jobs=TopicPublisher(broker, tuning_jobs.TOPIC, region, schema=tuning_jobs.TrainFineTuningJob,
                            description="Fine-tuning jobs for the region's tuning worker."),
        deletions=TopicPublisher(broker, tuning_model_deletions.TOPIC, region,
                                 schema=tuning_model_deletions.DeleteFineTunedModel,
                                 description="Deleted fine-tuned models: shredded by tuning, unloaded by inference."))
