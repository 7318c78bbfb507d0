"""The region's store: one client, one database, every retention collection's adapter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import AsyncMongoClient

from services.retention.adapters.mongo_audit import MongoAuditStore
from services.retention.adapters.mongo_flags import MongoFlagStore
from services.retention.adapters.mongo_grants import MongoGrantStore
from services.retention.adapters.mongo_keys import MongoKeyStore
from services.retention.adapters.mongo_policies import MongoPolicyStore
from services.retention.adapters.mongo_records import MongoRecordStore
from services.retention.adapters.mongo_stored import MongoStoredCompletions

STORED_KEYS = "stored_completion_keys"


class MongoRegionStore:
    def __init__(self, uri: str, database: str, *, timeout_ms: int = 5000, policy_cache_s: float = 30.0,
                 event_listeners: Sequence[Any] = (), client_options: Mapping[str, Any] | None = None) -> None:
        """``client_options``: TLS and authentication beside the URI (``settings.mongo_client_options()``)."""
        self._client: AsyncMongoClient = AsyncMongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=timeout_ms,
                                                          event_listeners=list(event_listeners),
                                                          **(client_options or {}))
        db = self._client[database]
        self.records = MongoRecordStore(db)
        self.keys = MongoKeyStore(db)
        self.flags = MongoFlagStore(db)
        self.grants = MongoGrantStore(db)
        self.audit = MongoAuditStore(db)
        self.policies = MongoPolicyStore(db, cache_s=policy_cache_s)
        self.stored = MongoStoredCompletions(db)
        self.stored_keys = MongoKeyStore(db, STORED_KEYS)  # stored completions' day keys, apart

    async def create_indexes(self) -> None:
        for adapter in (self.records, self.keys, self.flags, self.grants, self.audit, self.stored, self.stored_keys):
            await adapter.create_indexes()

    async def close(self) -> None:
        await self._client.close()
