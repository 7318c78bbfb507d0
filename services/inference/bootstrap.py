"""Composition root of inference: real engines by default, fakes from tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faststream.kafka import KafkaBroker

from contracts import generation_events, query_embeddings
from contracts.base import utc_now
from services.inference.adapters.engine_router import ChatEngines, EmbeddingEngines
from services.inference.handlers import InferencePorts, StreamPolicy
from services.inference.ports import CompletionEngine, EmbeddingEngine, ToolCallParsers
from services.inference.settings import InferenceSettings
from services.runtime.bus import TopicPublisher, make_broker
from services.runtime.replies import ReplyPublisher
from services.runtime.tracing import make_tracer_provider


@dataclass(frozen=True)
class Inference:
    broker: KafkaBroker
    ports: InferencePorts
    engines: list[Any]  # everything with start()/close(), started before consuming


def sealed_adapters(settings: InferenceSettings) -> Any:
    """Fine-tuned models from the region's tuning store, when the adapters key is set."""
    if settings.adapters_key is None:
        return None
    from pymongo import AsyncMongoClient

    from services.inference.adapters.sealed_adapters import SealedAdapters
    from services.runtime.customer_keys import LocalFileKeyProvider
    from services.runtime.sealing import StaticKeyProvider
    from services.tuning_catalog.keys import key_bytes
    from services.tuning_catalog.mongo import MongoTuningCatalog
    from services.tuning_catalog.mongo_vault import MongoSealedObjects
    from services.tuning_catalog.vault import TuningVault

    client: AsyncMongoClient = AsyncMongoClient(settings.tuning_mongo_uri.get_secret_value(), tz_aware=True,
                                                serverSelectionTimeoutMS=5000)
    database = client[settings.tuning_database]
    provider = StaticKeyProvider({settings.adapters_key_id: key_bytes(settings.adapters_key)}, purpose="adapters")
    customer = LocalFileKeyProvider(settings.customer_key_dir) if settings.customer_key_dir else None
    vault = TuningVault(MongoSealedObjects(database), provider, settings.adapters_key_id, utc_now, customer=customer)
    return SealedAdapters(MongoTuningCatalog(database), vault, settings.adapter_scratch_dir)


def tool_template(settings: InferenceSettings, model: str) -> str | None:
    """The chat template that shows ``model`` the tools for tool_choice auto, if one is configured."""
    calling = settings.tool_calling.get(model)
    return calling.chat_template.read_text() if calling and calling.chat_template else None


def tool_call_parsers(settings: InferenceSettings, engine: CompletionEngine) -> ToolCallParsers | None:
    """The tool parsers of the models configured for tool_choice auto, with their engines' tokenizers."""
    if not settings.tool_calling:
        return None
    from services.inference.adapters.vllm_tool_calls import VllmToolCallParsers

    tokenizer_of = getattr(engine, "tokenizer", None)
    if tokenizer_of is None:
        raise TypeError("tool_calling needs an engine that names its models' tokenizers")
    return VllmToolCallParsers({model: c.parser for model, c in settings.tool_calling.items()}, tokenizer_of)


def make_engines(settings: InferenceSettings) -> tuple[ChatEngines, EmbeddingEngines]:
    chat: list[Any] = []
    embedding: list[Any] = []
    if settings.echo_models:
        from services.inference.adapters.echo_engine import EchoEngine

        chat.append(EchoEngine(settings.echo_models, delay_per_token_s=settings.echo_delay_per_token_s))
    if settings.chat_models or settings.embedding_models:
        from services.inference.adapters.vllm_chat import VllmChatEngine
        from services.inference.adapters.vllm_embeddings import VllmEmbeddingEngine

        chat += [VllmChatEngine(name, value, settings, adapter_dir=settings.adapter_dir, work_dir=settings.work_dir,
                                stats_interval_s=settings.stats_interval_s, sealed=sealed_adapters(settings),
                                tool_template=tool_template(settings, name))
                 for name, value in settings.chat_models.items()]
        embedding += [VllmEmbeddingEngine(name, value, settings, work_dir=settings.work_dir)
                      for name, value in settings.embedding_models.items()]
    return ChatEngines(chat), EmbeddingEngines(embedding)


def bootstrap(settings: InferenceSettings, *, broker: KafkaBroker | None = None,
              engine: CompletionEngine | None = None, embeddings: EmbeddingEngine | None = None) -> Inference:
    broker = broker or make_broker(
        settings.kafka_bootstrap, service="inference",
        tracer_provider=make_tracer_provider("inference", settings.region, console=settings.otel_console),
        security=settings.kafka_security())
    lifecycle: list[Any] = []
    if engine is None and embeddings is None:
        engine, embeddings = make_engines(settings)
        lifecycle = [*engine.engines, *embeddings.engines]
    if engine is None:
        raise TypeError("bootstrap(embeddings=...) needs engine=... too: no chat engine would be built")
    ports = InferencePorts(
        engine=engine, embeddings=embeddings,
        events=TopicPublisher(broker, generation_events.TOPIC, settings.region,
                              schema=generation_events.CompletionGenerated),
        replies=ReplyPublisher(broker, settings.region),
        query_embeddings=ReplyPublisher(broker, settings.region, query_embeddings.TOPIC),
        stream=StreamPolicy(tokens=settings.stream_chunk_tokens, window_s=settings.stream_chunk_ms / 1000),
        tool_calls=tool_call_parsers(settings, engine))
    return Inference(broker=broker, ports=ports, engines=lifecycle)
