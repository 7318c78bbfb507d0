"""Composition root of the gateway: real adapters by default, fakes from tests."""

from __future__ import annotations

from dataclasses import dataclass

from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from services.connections.adapters.mongo_connections import MongoDataConnections
from services.connections.model import DataConnectionStore
from services.connections.policy import Resolver
from services.gateway.adapters.kafka_bus import KafkaRequestBus
from services.gateway.adapters.mongo_resources import MongoResourceDirectory
from services.gateway.adapters.mongo_windows import MongoWindowCounter
from services.gateway.data_connections import DataConnections
from services.gateway.handlers import GatewayPorts
from services.gateway.key_cache import CachedResourceDirectory
from services.gateway.ports import RequestBus, ResourceDirectory
from services.gateway.rate_limits import WindowCounter
from services.gateway.settings import GatewaySettings
from services.runtime.bus import make_broker
from services.runtime.reply_inbox import InMemoryReplyInbox
from services.runtime.tracing import make_tracer_provider


@dataclass(frozen=True)
class Gateway:
    broker: KafkaBroker
    ports: GatewayPorts
    inbox: InMemoryReplyInbox


def bootstrap(settings: GatewaySettings, *, broker: KafkaBroker | None = None,
              resources: ResourceDirectory | None = None, bus: RequestBus | None = None,
              windows: WindowCounter | None = None, connections: DataConnectionStore | None = None,
              resolver: Resolver | None = None) -> Gateway:
    broker = broker or make_broker(
        settings.kafka_bootstrap, service="gateway",
        tracer_provider=make_tracer_provider("gateway", settings.region, console=settings.otel_console),
        security=settings.kafka_security())
    if resources is None or windows is None or connections is None:
        client: AsyncMongoClient = AsyncMongoClient(settings.mongo_uri.get_secret_value(), tz_aware=True,
                                                   **settings.mongo_client_options(),
                                                   serverSelectionTimeoutMS=settings.store_timeout_ms)
        resources = resources or MongoResourceDirectory(client, settings.control_database)
        windows = windows or MongoWindowCounter(client, settings.control_database, settings.replica_id)
        connections = connections or MongoDataConnections(client[settings.control_database])
    if settings.key_cache_s > 0:
        resources = CachedResourceDirectory(resources, ttl_s=settings.key_cache_s)
    inbox = InMemoryReplyInbox()
    data_connections = DataConnections(
        connections, settings.endpoint_policy(settings.mongo_uri.get_secret_value(), resolver=resolver),
        settings.secret_sealer())
    ports = GatewayPorts(resources=resources, bus=bus or KafkaRequestBus(broker, settings.region), inbox=inbox,
                         windows=windows, connections=data_connections,
                         region=settings.region, replica_id=settings.replica_id,
                         reply_timeout_s=settings.reply_timeout_s)
    return Gateway(broker=broker, ports=ports, inbox=inbox)
