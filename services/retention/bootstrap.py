"""Composition root of retention: real adapters by default, fakes from tests."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from faststream.kafka import KafkaBroker

from contracts.base import utc_now
from services.retention.adapters.mongo_region import MongoRegionStore
from services.retention.adapters.platform_keys import PlatformKeyProvider
from services.retention.audit import AuditLog, chain_of
from services.retention.customer import CustomerPorts
from services.retention.flagging import DEFAULT_RULES, Rule
from services.retention.handlers import RetentionPorts
from services.retention.keyring import Keyring
from services.retention.ports import Clock, RecordStore
from services.retention.review.access import ReviewPorts
from services.retention.review.identity import ReviewDirectory
from services.retention.settings import RetentionSettings
from services.retention.stored import StoredPorts
from services.retention.sweep import SweepPorts
from services.runtime.bus import make_broker
from services.runtime.customer_keys import LocalFileKeyProvider
from services.runtime.replies import ReplyPublisher
from services.runtime.tracing import make_tracer_provider


@dataclass(frozen=True)
class RetentionService:
    broker: KafkaBroker
    store: MongoRegionStore
    ports: RetentionPorts
    sweep: SweepPorts
    review: ReviewPorts
    customer: CustomerPorts
    directory: ReviewDirectory
    stored: StoredPorts
    replies: ReplyPublisher  # answers to the gateway replica asking about stored completions


def flag_rules(settings: RetentionSettings) -> tuple[Rule, ...]:
    if settings.flag_rules is None:
        return DEFAULT_RULES
    return tuple(Rule(r.name, r.signal, r.scope, r.threshold, timedelta(seconds=r.window_s))
                 for r in settings.flag_rules)


def customer_key_provider(settings: RetentionSettings) -> LocalFileKeyProvider | None:
    """Customer-managed keys (``CUSTOMER_KEYS``): they wrap both keyrings' data keys of their resources."""
    return LocalFileKeyProvider(settings.customer_key_dir) if settings.customer_key_dir else None


def keyring_of(settings: RetentionSettings, store: MongoRegionStore, clock: Clock) -> Keyring:
    platform_keys = {settings.platform_key_id: base64.b64decode(settings.platform_key.get_secret_value())}
    platform_keys.update({k: base64.b64decode(v.get_secret_value())
                          for k, v in settings.previous_platform_keys.items()})
    return Keyring(store.keys, PlatformKeyProvider(platform_keys), settings.platform_key_id, clock=clock,
                   customer=customer_key_provider(settings), customer_keys=settings.customer_keys,
                   cache_ttl_s=settings.key_cache_s)


STORED_PURPOSE = b"residency/purpose-key/stored-completions/v1"


def purpose_key(platform_key: bytes, purpose: bytes) -> bytes:
    """A key of its own for one purpose, derived from the platform key (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(platform_key)


def stored_keyring_of(settings: RetentionSettings, store: MongoRegionStore, clock: Clock) -> Keyring:
    """Stored completions' keyring: day keys in their own collection, wrapped by their purpose key
    and, for a resource with a customer-managed key, by that key too (as its abuse-monitoring data
    keys are): revoking it makes the resource's stored completions unreadable at once."""
    if settings.stored_completions_key is not None:
        keys = {"stored-completions": base64.b64decode(settings.stored_completions_key.get_secret_value())}
    else:
        platform = {settings.platform_key_id: settings.platform_key,
                    **settings.previous_platform_keys}
        keys = {f"{key_id}/stored-completions": purpose_key(base64.b64decode(key.get_secret_value()), STORED_PURPOSE)
                for key_id, key in platform.items()}
    current = next(iter(keys))
    return Keyring(store.stored_keys, PlatformKeyProvider(keys), current, clock=clock,
                   customer=customer_key_provider(settings), customer_keys=settings.customer_keys,
                   cache_ttl_s=settings.key_cache_s)


def bootstrap(settings: RetentionSettings, *, broker: KafkaBroker | None = None,
              store: RecordStore | None = None, clock: Clock = utc_now) -> RetentionService:
    broker = broker or make_broker(
        settings.kafka_bootstrap, service="retention",
        tracer_provider=make_tracer_provider("retention", settings.region, console=settings.otel_console),
        security=settings.kafka_security())
    region_store = MongoRegionStore(settings.store.uri.get_secret_value(), settings.store.database,
                                    client_options=settings.mongo_client_options())
    records = store or region_store.records
    keyring = keyring_of(settings, region_store, clock)
    ports = RetentionPorts(records=records, keyring=keyring, policies=region_store.policies,
                           flags=region_store.flags, clock=clock, region=settings.region,
                           max_retention_days=settings.retention_days, rules=flag_rules(settings))
    stored = StoredPorts(store=region_store.stored, keyring=stored_keyring_of(settings, region_store, clock),
                         clock=clock, region=settings.region)
    sweep = SweepPorts(records=records, keyring=keyring, policies=region_store.policies, flags=region_store.flags,
                       grants=region_store.grants, clock=clock, max_retention_days=settings.retention_days,
                       stored=stored)
    audit = AuditLog(region_store.audit, chain_of(settings.region), clock)
    review = ReviewPorts(records=records, keyring=keyring, grants=region_store.grants, flags=region_store.flags,
                         audit=audit, clock=clock, region_in_eea=settings.region_in_eea,
                         grant_ttl=timedelta(seconds=settings.grant_ttl_s))
    return RetentionService(broker=broker, store=region_store, ports=ports, sweep=sweep, review=review, stored=stored,
                            replies=ReplyPublisher(broker, settings.region),
                            customer=CustomerPorts(sweep=sweep, audit=audit, audit_store=region_store.audit),
                            directory=ReviewDirectory(settings.workstations, settings.reviewers))
