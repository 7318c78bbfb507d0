"""Composition root of retrieval: real adapters by default, fakes from tests."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from contracts import embedding_requests, prompt_submissions
from services.connections.adapters.mongo_connections import MongoDataConnections
from services.connections.policy import Resolver
from services.retrieval.adapters.mongo_documents import MongoCustomerDocuments, ReadLimits
from services.retrieval.adapters.query_embedder import BusQueryEmbedder
from services.retrieval.handlers import RetrievalPorts
from services.retrieval.ports import Connections, CustomerDocuments
from services.retrieval.settings import RetrievalSettings
from services.retrieval.vector_index import VectorIndexes
from services.runtime.bus import TopicPublisher, make_broker
from services.runtime.replies import ReplyPublisher
from services.runtime.reply_inbox import InMemoryReplyInbox
from services.runtime.tracing import make_tracer_provider


def bootstrap(settings: RetrievalSettings, *, broker: KafkaBroker | None = None,
              connections: Connections | None = None, documents: CustomerDocuments | None = None,
              resolver: Resolver | None = None,
              inbox: InMemoryReplyInbox | None = None) -> tuple[KafkaBroker, RetrievalPorts]:
    broker = broker or make_broker(
        settings.kafka_bootstrap, service="retrieval",
        tracer_provider=make_tracer_provider("retrieval", settings.region, console=settings.otel_console),
        security=settings.kafka_security())
    if connections is None:
        control: AsyncMongoClient = AsyncMongoClient(settings.control_mongo_uri.get_secret_value(), tz_aware=True,
                                                     serverSelectionTimeoutMS=settings.store_timeout_ms,
                                                     **settings.mongo_client_options())
        connections = MongoDataConnections(control[settings.control_database])
    if documents is None:
        policy = settings.endpoint_policy(settings.control_mongo_uri.get_secret_value(), resolver=resolver)
        documents = MongoCustomerDocuments(policy=policy, sealer=settings.secret_sealer(), limits=ReadLimits(
            connect_timeout_ms=settings.connect_timeout_ms, operation_timeout_ms=settings.operation_timeout_ms,
            max_document_bytes=settings.max_document_bytes, max_bytes_per_request=settings.max_bytes_per_request,
            max_clients=settings.max_clients, client_max_age_s=settings.client_max_age_s))
    ports = RetrievalPorts(
        connections=connections, documents=documents,
        submissions=TopicPublisher(broker, prompt_submissions.TOPIC, settings.region,
                                   schema=prompt_submissions.PromptSubmitted),
        replies=ReplyPublisher(broker, settings.region),
        max_candidates=settings.max_candidates, deadline_s=settings.request_deadline_s,
        indexes=VectorIndexes(max_index_bytes=settings.index_max_mib << 20,
                              max_total_bytes=settings.index_total_mib << 20, ttl_s=settings.index_ttl_s,
                              refresh_s=settings.index_refresh_s, exact_limit=settings.index_exact_limit,
                              probes=settings.index_probes),
        embedder=BusQueryEmbedder(
            TopicPublisher(broker, embedding_requests.TOPIC, settings.region, schema=embedding_requests.EmbedTexts),
            inbox or InMemoryReplyInbox(), replica_id=settings.replica_id,
            timeout_s=settings.query_embedding_timeout_s),
    )
    return broker, ports
