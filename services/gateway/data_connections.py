"""A resource's data connections: registered through the control plane, matched on every request.

Registration parses the endpoint with our own strict reader, runs the endpoint policy (resolve,
then refuse platform stores and private ranges; no socket to the server opens), refuses platform
and system databases, and seals the password with the region's connections key before storing.
A chat request's ``data_sources`` entry must then name a connection of its own resource — by its
``connection`` name (Residency's extension) or by an ``endpoint`` naming the same servers and
database as one — and only the connection's name travels on the bus.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from contracts.base import utc_now
from contracts.grounding_requests_v2 import DEFAULT_CONTEXTS, ConnectionDataSource, ContextPart
from services.connections.endpoint import parse_endpoint
from services.connections.errors import ConnectionRefused
from services.connections.model import (
    CONNECTION_NAME_PATTERN,
    DataConnection,
    DataConnectionStore,
    credentials_associated_data,
)
from services.connections.policy import EndpointPolicy, check_collection, check_database
from services.gateway.errors import GatewayError, InvalidRequest, NotFound
from services.gateway.resources import Resource
from services.runtime.sealing import SecretSealer

log = logging.getLogger("residency.gateway.data_connections")
PARAM = "data_sources.[0].parameters"


class Conflict(GatewayError):
    status, type, code = 409, "invalid_request_error", "conflict"


class ConnectionCreate(BaseModel):
    """The admin API's body for a new data connection."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=CONNECTION_NAME_PATTERN)
    endpoint: str = Field(min_length=1, max_length=2048)
    database_name: str = Field(min_length=1, max_length=64)
    username: str | None = Field(None, min_length=1, max_length=256)
    password: SecretStr | None = Field(None, max_length=1024)


@dataclass(frozen=True)
class RequestedDataSource:
    """A request's ``data_sources[0].parameters`` as the caller wrote them (credentials never kept)."""

    endpoint: str | None
    connection: str | None
    database_name: str
    collection_name: str
    username: str | None
    content_fields: list[str]
    title_field: str | None
    url_field: str | None
    filepath_field: str | None
    top_n_documents: int
    strictness: int
    in_scope: bool
    vector_fields: list[str] = field(default_factory=list)
    embedding_deployment: str | None = None
    include_contexts: list[ContextPart] = field(default_factory=lambda: list(DEFAULT_CONTEXTS))
    max_search_queries: int | None = None
    allow_partial_result: bool = False


class DataConnections:
    def __init__(self, store: DataConnectionStore, policy: EndpointPolicy, sealer: SecretSealer | None) -> None:
        self.store = store
        self._policy = policy
        self._sealer = sealer

    async def register(self, resource_id: str, spec: ConnectionCreate) -> DataConnection:
        try:
            parsed = parse_endpoint(spec.endpoint)
            check_database(spec.database_name)
            await self._policy.vet(parsed.endpoint)
        except ConnectionRefused as refused:
            raise InvalidRequest(refused.message, param="endpoint", code=refused.code) from None
        username = spec.username or parsed.username
        password = spec.password.get_secret_value() if spec.password else parsed.password
        if password is not None and username is None:
            raise InvalidRequest("A password needs a username.", param="username")
        sealed = None
        if password is not None:
            if self._sealer is None:
                raise InvalidRequest("This region has no connections key configured; connections with a "
                                     "password cannot be registered.", param="password",
                                     code="connections_key_missing")
            sealed = await self._sealer.seal(password.encode(), credentials_associated_data(resource_id, spec.name))
        connection = DataConnection(resource_id=resource_id, name=spec.name, endpoint=parsed.endpoint,
                                    database=spec.database_name, username=username, password=sealed,
                                    created_at=utc_now())
        if not await self.store.create(connection):
            raise Conflict(f"Data connection '{spec.name}' already exists for this resource.")
        log.info("resource %s registered data connection %s", resource_id, spec.name)
        return connection

    async def resolve(self, resource: Resource, requested: RequestedDataSource) -> ConnectionDataSource:
        """The resource's connection a request names; raises a 400 before anything is published."""
        resource_id = resource.resource_id
        embedding_model = None
        if requested.embedding_deployment is not None:
            deployment = resource.deployment(requested.embedding_deployment)
            if deployment is None:
                raise InvalidRequest(f"The embedding deployment '{requested.embedding_deployment}' does not exist "
                                     "for this resource.", param=f"{PARAM}.embedding_dependency.deployment_name",
                                     code="DeploymentNotFound")
            embedding_model = deployment.model
        try:
            check_database(requested.database_name)
            check_collection(requested.collection_name)
        except ConnectionRefused as refused:
            raise InvalidRequest(refused.message, param=f"{PARAM}.database_name", code=refused.code) from None
        connection = await self._find(resource_id, requested)
        if requested.username is not None and requested.username != connection.username:
            raise InvalidRequest("The authentication does not match the registered data connection.",
                                 param=f"{PARAM}.authentication", code="data_source_refused")
        return ConnectionDataSource(
            connection=connection.name, database_name=connection.database,
            collection_name=requested.collection_name, content_fields=requested.content_fields,
            title_field=requested.title_field, url_field=requested.url_field,
            filepath_field=requested.filepath_field, top_n_documents=requested.top_n_documents,
            strictness=requested.strictness, in_scope=requested.in_scope, vector_fields=requested.vector_fields,
            embedding_deployment=requested.embedding_deployment, embedding_model=embedding_model,
            include_contexts=requested.include_contexts, max_search_queries=requested.max_search_queries,
            allow_partial_result=requested.allow_partial_result)

    async def _find(self, resource_id: str, requested: RequestedDataSource) -> DataConnection:
        if requested.connection is not None:
            found = await self.store.get(resource_id, requested.connection)
            if found is None or found.database != requested.database_name:
                raise InvalidRequest("No data connection of that name and database is registered for this "
                                     "resource.", param=f"{PARAM}.connection", code="data_source_not_registered")
            return found
        assert requested.endpoint is not None  # the edge requires one of the two
        try:
            endpoint = parse_endpoint(requested.endpoint).endpoint
        except ConnectionRefused as refused:
            raise InvalidRequest(refused.message, param=f"{PARAM}.endpoint", code=refused.code) from None
        for connection in await self.store.list_for(resource_id):
            if connection.endpoint.same_servers(endpoint) and connection.database == requested.database_name:
                return connection
        raise InvalidRequest("The endpoint and database are not registered as a data connection of this "
                             "resource; register them through the control plane first.",
                             param=f"{PARAM}.endpoint", code="data_source_not_registered")

    async def get(self, resource_id: str, name: str) -> DataConnection:
        found = await self.store.get(resource_id, name)
        if found is None:
            raise NotFound(f"Data connection '{name}' does not exist.", code="DataConnectionNotFound")
        return found
