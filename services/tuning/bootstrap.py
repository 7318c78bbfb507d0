"""Composition root of tuning: real adapters by default, fakes from tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from contracts.base import utc_now
from services.runtime.bus import make_broker
from services.runtime.replies import ReplyPublisher
from services.runtime.tracing import make_tracer_provider
from services.tuning.handlers import FilePorts
from services.tuning.jobs import JobPorts
from services.tuning.orphans import OrphanPorts
from services.tuning.ports import Trainer
from services.tuning.settings import TuningSettings
from services.tuning.validation import Limits
from services.tuning_catalog.mongo import MongoTuningCatalog
from services.tuning_catalog.mongo_vault import MongoSealedObjects
from services.tuning_catalog.ports import SealedObjects, TuningCatalog
from services.tuning_catalog.vault import TuningVault


@dataclass(frozen=True)
class Tuning:
    broker: KafkaBroker
    files: FilePorts
    jobs: JobPorts
    orphans: OrphanPorts
    stores: list[object]  # adapters with create_indexes(), run before consuming
    closers: list[Callable[[], Awaitable[None]]]  # the clients bootstrap opened, closed after shutdown


def bootstrap(settings: TuningSettings, *, broker: KafkaBroker | None = None, catalog: TuningCatalog | None = None,
              sealed: SealedObjects | None = None, trainer: Trainer | None = None,
              clock: Callable[[], datetime] = utc_now) -> Tuning:
    broker = broker or make_broker(
        settings.kafka_bootstrap, service="tuning",
        tracer_provider=make_tracer_provider("tuning", settings.region, console=settings.otel_console))
    closers: list[Callable[[], Awaitable[None]]] = []
    if catalog is None or sealed is None:
        client: AsyncMongoClient = AsyncMongoClient(settings.mongo_uri.get_secret_value(), tz_aware=True,
                                                    serverSelectionTimeoutMS=settings.store_timeout_ms)
        closers.append(client.close)
        catalog = catalog or MongoTuningCatalog(client[settings.database])
        sealed = sealed or MongoSealedObjects(client[settings.database])
    if trainer is None:
        from services.tuning.adapters.peft_trainer import PeftTrainer

        trainer = PeftTrainer(settings.base_models, scratch_dir=settings.scratch_dir, threads=settings.torch_threads,
                              max_tokens=settings.max_train_tokens)
    customer, customer_keys = settings.customer_provider(), settings.customer_keys
    vault = TuningVault(sealed, settings.files_provider(), settings.files_key_id, clock, customer=customer,
                        customer_keys=customer_keys)
    adapters = TuningVault(sealed, settings.adapters_provider(), settings.adapters_key_id, clock, customer=customer,
                           customer_keys=customer_keys)
    files = FilePorts(catalog=catalog, vault=vault, replies=ReplyPublisher(broker, settings.region), clock=clock,
                      region=settings.region,
                      limits=Limits(min_examples=settings.min_examples, max_examples=settings.max_examples,
                                    max_line_bytes=settings.max_line_bytes))
    jobs = JobPorts(catalog=catalog, vault=vault, adapters=adapters, trainer=trainer, clock=clock,
                    worker_id=settings.worker_id,
                    stale_after_s=settings.stale_after_s, base_models=settings.base_models, region=settings.region)
    orphans = OrphanPorts(catalog=catalog, sealed=sealed, vault=vault, clock=clock,
                          orphan_after=timedelta(seconds=settings.orphan_after_s))
    return Tuning(broker=broker, files=files, jobs=jobs, orphans=orphans, stores=[catalog, sealed],
                  closers=closers)
