"""Retrieval settings (env prefix RESIDENCY_RETRIEVAL_)."""

from __future__ import annotations

import os
import secrets
import socket

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.connections.settings import DataConnectionSettings
from services.runtime.settings import ServiceSettings


def _replica_id() -> str:
    return f"retrieval-{socket.gethostname()[:20]}-{os.getpid()}-{secrets.token_hex(3)}"


class RetrievalSettings(ServiceSettings, DataConnectionSettings):
    model_config = SettingsConfigDict(env_prefix="RESIDENCY_RETRIEVAL_", extra="ignore", frozen=True)

    control_mongo_uri: SecretStr = Field(SecretStr("mongodb://127.0.0.1:27017/"), description=(
        "The region's control-plane store, where data connections are registered (read only)."))
    control_database: str = Field("residency_control", description="Database of resources and data connections.")
    store_timeout_ms: int = Field(5000, ge=100, description="How long to wait for the control-plane store.")
    max_candidates: int = Field(200, ge=1, le=5000, description="Documents read per request before ranking.")
    connect_timeout_ms: int = Field(2000, ge=100, le=30_000, description=(
        "Time allowed to select and connect to a customer's server."))
    operation_timeout_ms: int = Field(4000, ge=100, le=60_000, description=(
        "Socket timeout and server-side maxTimeMS of one read from a customer's store."))
    request_deadline_s: float = Field(5.0, gt=0, le=60, description=(
        "The longest one request may spend on the customer's store, connection included."))
    max_document_bytes: int = Field(64 * 1024, ge=1024, description="Larger documents are skipped unread.")
    max_bytes_per_request: int = Field(2 * 1024 * 1024, ge=4096, description="Reading stops after this many bytes.")
    max_clients: int = Field(64, ge=1, description="Pooled clients (one per connection) kept at most.")
    client_max_age_s: float = Field(600, gt=0, description="A pooled client is re-vetted and made anew after this.")
    max_in_flight: int = Field(32, ge=1, le=1024, description="Grounding requests handled concurrently.")
    replica_id: str = Field(default_factory=_replica_id, max_length=64, description=(
        "This replica's ID on the query-embeddings topic."))
    query_embedding_timeout_s: float = Field(3.0, gt=0, le=60, description="Longest wait to embed search queries.")
    index_max_mib: int = Field(512, ge=1, description="Largest in-memory vector index (one collection and field).")
    index_total_mib: int = Field(2048, ge=1, description="All in-memory vector indexes of this replica together.")
    index_ttl_s: float = Field(1800, gt=0, description="An index unused this long is dropped.")
    index_refresh_s: float = Field(30, gt=0, description="How often an index checks its collection for changes.")
    index_exact_limit: int = Field(20_000, ge=1, description="Exact search up to this many vectors, IVF above.")
    index_probes: int = Field(16, ge=1, description="IVF cells visited per query (see just bench retrieval).")
