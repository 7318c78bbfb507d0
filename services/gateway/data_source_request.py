"""Azure's "on your data" request shape (``data_sources``: ``mongo_db``), validated at the HTTP edge
into the ``RequestedDataSource`` that the gateway resolves against the resource's data connections."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from contracts.grounding_requests_v2 import DEFAULT_CONTEXTS, ContextPart
from services.gateway.data_connections import RequestedDataSource
from services.gateway.tolerant import Tolerant


class MongoAuthentication(Tolerant):
    type: Literal["username_and_password"]
    username: str
    password: str


class FieldsMapping(Tolerant):
    content_fields: list[str] = Field(default_factory=lambda: ["content"], min_length=1, max_length=16)
    title_field: str | None = Field(None, max_length=128)
    url_field: str | None = Field(None, max_length=128)
    filepath_field: str | None = Field(None, max_length=128)
    vector_fields: list[str] = Field(default_factory=list, max_length=4)


class EmbeddingDependency(Tolerant):
    """Azure's embedding_dependency; only a deployment of the caller's own resource is supported."""

    type: Literal["deployment_name"]
    deployment_name: str = Field(min_length=1, max_length=64)


class MongoParameters(Tolerant):
    """Azure's ``mongo_db`` parameters. ``connection`` (Residency's extension) names a registered
    data connection; otherwise ``endpoint`` and ``database_name`` must match one of the resource."""

    endpoint: str | None = Field(None, min_length=1, max_length=2048)
    connection: str | None = Field(None, min_length=1, max_length=63)
    database_name: str = Field(min_length=1, max_length=64)
    collection_name: str = Field(min_length=1, max_length=120)
    authentication: MongoAuthentication | None = None
    fields_mapping: FieldsMapping = Field(default_factory=FieldsMapping)
    top_n_documents: int = Field(5, ge=1, le=20)
    strictness: int = Field(3, ge=1, le=5)
    in_scope: bool = True
    embedding_dependency: EmbeddingDependency | None = None
    include_contexts: list[ContextPart] = Field(default_factory=lambda: list(DEFAULT_CONTEXTS), max_length=3)
    max_search_queries: int | None = Field(None, ge=1, le=10)
    allow_partial_result: bool = False
    app_name: str | None = Field(None, max_length=128)  # accepted; names nothing here
    index_name: str | None = Field(None, max_length=128)  # accepted; the in-memory index needs no name

    @model_validator(mode="after")
    def _names_a_source(self) -> MongoParameters:
        if self.endpoint is None and self.connection is None:
            raise ValueError("endpoint: give the data source's endpoint or the name of a registered connection")
        if self.fields_mapping.vector_fields and self.embedding_dependency is None:
            raise ValueError("embedding_dependency: vector_fields need an embedding deployment to embed the queries")
        return self


class DataSource(Tolerant):
    type: Literal["mongo_db"]
    parameters: MongoParameters


def data_source(sources: list[DataSource] | None) -> RequestedDataSource | None:
    """The request's data source; its password is dropped here and never travels further."""
    if not sources:
        return None
    p = sources[0].parameters
    return RequestedDataSource(
        endpoint=p.endpoint, connection=p.connection, database_name=p.database_name,
        collection_name=p.collection_name, username=p.authentication.username if p.authentication else None,
        content_fields=p.fields_mapping.content_fields, title_field=p.fields_mapping.title_field,
        url_field=p.fields_mapping.url_field, filepath_field=p.fields_mapping.filepath_field,
        top_n_documents=p.top_n_documents, strictness=p.strictness, in_scope=p.in_scope,
        vector_fields=p.fields_mapping.vector_fields,
        embedding_deployment=p.embedding_dependency.deployment_name if p.embedding_dependency else None,
        include_contexts=list(p.include_contexts), max_search_queries=p.max_search_queries,
        allow_partial_result=p.allow_partial_result)
