"""Reads the customer's MongoDB collection with the credentials of the request."""

from __future__ import annotations

import re
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from contracts.grounding_requests import MongoDataSource
from services.retrieval.errors import DataSourceUnavailable


class MongoCustomerDocuments:
    def __init__(self, *, connect_timeout_ms: int) -> None:
        self._timeout_ms = connect_timeout_ms

    def _client(self, source: MongoDataSource) -> AsyncMongoClient:
        uri = source.endpoint if source.endpoint.startswith("mongodb") else f"mongodb://{source.endpoint}/"
        credentials: dict[str, Any] = {}
        if source.username:
            credentials = {"username": source.username, "password": source.password or ""}
        return AsyncMongoClient(uri, serverSelectionTimeoutMS=self._timeout_ms,
                                connectTimeoutMS=self._timeout_ms, appname="residency-retrieval", **credentials)

    async def candidates(self, source: MongoDataSource, terms: list[str], limit: int) -> list[dict[str, Any]]:
        if not terms:
            return []
        query = {"$or": [{field: {"$regex": re.escape(term), "$options": "i"}}
                         for field in source.content_fields for term in terms]}
        client = self._client(source)
        try:
            collection = client[source.database_name][source.collection_name]
            return await collection.find(query).limit(limit).to_list(length=limit)
        except PyMongoError as error:
            # Customer-side: report it to the caller, never retry it as if our store were down.
            raise DataSourceUnavailable(type(error).__name__) from error
        finally:
            await client.close()
