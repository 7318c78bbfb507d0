"""Reads a customer's MongoDB collection through a registered data connection, within limits.

Before a client to a connection is made, its endpoint passes the policy again (DNS may have
changed since registration) and its sealed password is opened. Clients are pooled per
connection (at most ``max_clients``, each re-vetted after ``client_max_age_s``) and speak to one
server directly: replica-set discovery is off, because a hostile server could announce members
at addresses the policy refuses. Every read has a server-selection and socket limit and a
server-side ``maxTimeMS``; documents arrive as raw BSON, so one over ``max_document_bytes`` is
skipped without being decoded, and reading stops after ``max_bytes_per_request``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import bson
import numpy as np
from bson.binary import BinaryVectorDtype
from bson.raw_bson import RawBSONDocument
from pymongo import AsyncMongoClient
from pymongo.errors import ConfigurationError, PyMongoError

from contracts.grounding_requests_v2 import ConnectionDataSource
from services.connections.endpoint import HostPort
from services.connections.errors import ConnectionRefused
from services.connections.model import DataConnection, credentials_associated_data
from services.connections.policy import EndpointPolicy
from services.retrieval.errors import CredentialsUnreadable, DataSourceUnavailable
from services.retrieval.vector_index import CollectionMarker
from services.runtime.sealing import SecretSealer, Unreadable

log = logging.getLogger("residency.retrieval.documents")
BATCH_SIZE = 50
VECTOR_BATCH_SIZE = 1000
VECTOR_SUBTYPE, FLOAT32_DTYPE = 9, BinaryVectorDtype.FLOAT32.value


def _vector(value: Any) -> list[float] | np.ndarray | None:
    """An array of numbers, or a BSON vector (binary subtype 9, float32: Atlas' compact form)."""
    if isinstance(value, list) and value and all(isinstance(x, int | float) for x in value):
        return value
    if isinstance(value, bson.Binary) and value.subtype == VECTOR_SUBTYPE and bytes(value[:1]) == FLOAT32_DTYPE:
        return np.frombuffer(bytes(value)[2:], dtype="<f4")  # after the dtype and padding bytes
    return None


def _display_fields(source: ConnectionDataSource) -> dict[str, int]:
    """What a citation shows: the content fields, title, URL and path (never the vectors)."""
    return {f: 1 for f in [*source.content_fields, source.title_field, source.url_field, source.filepath_field] if f}


@dataclass(frozen=True)
class ReadLimits:
    connect_timeout_ms: int = 2000
    operation_timeout_ms: int = 4000
    max_document_bytes: int = 64 * 1024
    max_bytes_per_request: int = 2 * 1024 * 1024
    max_clients: int = 64
    client_max_age_s: float = 600.0
    pool_size: int = 4
    index_read_timeout_ms: int = 120_000  # reading a whole collection's vectors for an index


class MongoCustomerDocuments:
    def __init__(self, *, policy: EndpointPolicy, sealer: SecretSealer | None, limits: ReadLimits) -> None:
        self._policy = policy
        self._sealer = sealer
        self._limits = limits
        self._clients: OrderedDict[tuple[str, str, float], tuple[AsyncMongoClient, float]] = OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()

    async def candidates(self, connection: DataConnection, source: ConnectionDataSource, terms: list[str],
                         limit: int) -> list[dict[str, Any]]:
        if not terms:
            return []
        client = await self._client(connection)
        fields = _display_fields(source)
        query = {"$or": [{field: {"$regex": re.escape(term), "$options": "i"}}
                         for field in source.content_fields for term in terms]}
        try:
            cursor = (client[connection.database][source.collection_name]
                      .find(query, {"_id": 1, **fields})
                      .limit(limit).batch_size(min(limit, BATCH_SIZE))
                      .max_time_ms(self._limits.operation_timeout_ms))
            return await self._read(cursor)
        except PyMongoError as error:
            # Customer-side: report it to the caller, never retry it as if our store were down.
            raise DataSourceUnavailable(type(error).__name__) from error

    async def by_ids(self, connection: DataConnection, source: ConnectionDataSource,
                     ids: list[Any]) -> list[dict[str, Any]]:
        """The documents with these IDs (vector hits that the keyword query did not find)."""
        if not ids:
            return []
        client = await self._client(connection)
        try:
            cursor = (client[connection.database][source.collection_name]
                      .find({"_id": {"$in": ids}}, {"_id": 1, **_display_fields(source)})
                      .batch_size(BATCH_SIZE).max_time_ms(self._limits.operation_timeout_ms))
            return await self._read(cursor)
        except PyMongoError as error:
            raise DataSourceUnavailable(type(error).__name__) from error

    async def vectors(self, connection: DataConnection, source: ConnectionDataSource, vector_field: str,
                      max_bytes: int) -> AsyncIterator[tuple[Any, list[float] | np.ndarray]]:
        """Every document's ID and vector (for an in-memory index); no text is read."""
        client = await self._client(connection)
        read = 0
        try:
            cursor = (client[connection.database][source.collection_name]
                      .find({vector_field: {"$exists": True}}, {"_id": 1, vector_field: 1})
                      .batch_size(VECTOR_BATCH_SIZE).max_time_ms(self._limits.index_read_timeout_ms))
            try:
                async for raw in cursor:
                    read += len(raw.raw)
                    document = bson.decode(raw.raw)
                    vector = _vector(document.get(vector_field))
                    if vector is not None:
                        yield document["_id"], vector
                    if read > 2 * max_bytes:  # raw BSON is about twice the float32 index
                        break
            finally:
                await cursor.close()
        except PyMongoError as error:
            raise DataSourceUnavailable(type(error).__name__) from error

    async def marker(self, connection: DataConnection, source: ConnectionDataSource) -> CollectionMarker:
        """Count and newest ID: what changes when documents are added or removed (no change streams)."""
        client = await self._client(connection)
        collection = client[connection.database][source.collection_name]
        timeout = self._limits.operation_timeout_ms
        try:
            count = await collection.count_documents({}, maxTimeMS=timeout)
            newest = await collection.find({}, {"_id": 1}).sort("_id", -1).limit(1).max_time_ms(timeout).to_list(1)
        except PyMongoError as error:
            raise DataSourceUnavailable(type(error).__name__) from error
        return CollectionMarker(count=count, newest_id=str(bson.decode(newest[0].raw)["_id"]) if newest else "")

    async def _read(self, cursor: Any) -> list[dict[str, Any]]:
        documents: list[dict[str, Any]] = []
        read = 0
        try:
            async for raw in cursor:
                size = len(raw.raw)
                read += size
                if size <= self._limits.max_document_bytes:
                    documents.append(bson.decode(raw.raw))
                if read >= self._limits.max_bytes_per_request:
                    break
        finally:
            await cursor.close()
        return documents

    async def _client(self, connection: DataConnection) -> AsyncMongoClient:
        key = (connection.resource_id, connection.name, connection.created_at.timestamp())
        cached = self._clients.get(key)
        if cached is not None and time.monotonic() - cached[1] < self._limits.client_max_age_s:
            self._clients.move_to_end(key)
            return cached[0]
        if cached is not None:
            self._close(self._clients.pop(key)[0])
        client = await self._new_client(connection)
        if key in self._clients:  # a concurrent request made one meanwhile: keep theirs
            self._close(client)
            return self._clients[key][0]
        self._clients[key] = (client, time.monotonic())
        while len(self._clients) > self._limits.max_clients:
            self._close(self._clients.popitem(last=False)[1][0])
        return client

    async def _new_client(self, connection: DataConnection) -> AsyncMongoClient:
        targets = await self._policy.vet(connection.endpoint)  # before any socket to the server
        credentials: dict[str, Any] = {}
        if connection.username is not None:
            credentials = {"username": connection.username, "password": await self._password(connection)}
            endpoint = connection.endpoint
            if endpoint.auth_source:
                credentials["authSource"] = endpoint.auth_source
            if endpoint.auth_mechanism:
                credentials["authMechanism"] = endpoint.auth_mechanism
        limits = self._limits
        try:
            return AsyncMongoClient(
                host=str(HostPort(targets[0].host, targets[0].port)), directConnection=True,
                tls=connection.endpoint.uses_tls, readPreference="secondaryPreferred", retryReads=False,
                serverSelectionTimeoutMS=limits.connect_timeout_ms, connectTimeoutMS=limits.connect_timeout_ms,
                socketTimeoutMS=limits.operation_timeout_ms, maxPoolSize=limits.pool_size, maxIdleTimeMS=60_000,
                document_class=RawBSONDocument, appname="residency-retrieval", **credentials)
        except (ConfigurationError, ValueError, TypeError) as error:
            raise ConnectionRefused("The data connection's settings are not valid for the MongoDB driver.",
                                    code="data_source_invalid") from error

    async def _password(self, connection: DataConnection) -> str | None:
        if connection.password is None:
            return None
        if self._sealer is None:
            raise CredentialsUnreadable("no connections key configured")
        try:
            plain = await self._sealer.open(connection.password,
                                            credentials_associated_data(connection.resource_id, connection.name))
        except Unreadable as error:
            raise CredentialsUnreadable(str(error)) from error
        return plain.decode()

    def _close(self, client: AsyncMongoClient) -> None:
        task = asyncio.get_running_loop().create_task(client.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        clients = [client for client, _ in self._clients.values()]
        self._clients.clear()
        for client in clients:
            await client.close()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
