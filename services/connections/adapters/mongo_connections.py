"""Data connections in the control-plane store (collection ``data_connections``).

Every query leads with the resource ID; the unique index is (resource_id, name). The password is
stored only sealed (``services/runtime/sealing.py``), as binary fields.
"""

from __future__ import annotations

from typing import Any

from bson import Binary
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.connections.endpoint import HostPort, MongoEndpoint
from services.connections.model import DataConnection
from services.runtime.sealing import SealedSecret

COLLECTION = "data_connections"


def _to_document(connection: DataConnection) -> dict[str, Any]:
    endpoint = connection.endpoint
    sealed = connection.password
    return {
        "_id": f"{connection.resource_id}/{connection.name}", "resource_id": connection.resource_id,
        "name": connection.name, "database": connection.database, "username": connection.username,
        # Hosts as subdocuments: FerretDB v1 stores no nested arrays.
        "endpoint": {"hosts": [{"host": h.host, "port": h.port} for h in endpoint.hosts], "srv": endpoint.srv,
                     "tls": endpoint.tls,
                     "replica_set": endpoint.replica_set, "auth_source": endpoint.auth_source,
                     "auth_mechanism": endpoint.auth_mechanism},
        "password": None if sealed is None else {
            "wrapping_key_id": sealed.wrapping_key_id, "wrapped_key": Binary(sealed.wrapped_key),
            "nonce": Binary(sealed.nonce), "ciphertext": Binary(sealed.ciphertext)},
        "created_at": connection.created_at,
    }


def _from_document(d: dict[str, Any]) -> DataConnection:
    e = d["endpoint"]
    p = d.get("password")
    return DataConnection(
        resource_id=d["resource_id"], name=d["name"], database=d["database"], username=d.get("username"),
        endpoint=MongoEndpoint(hosts=tuple(HostPort(h["host"], int(h["port"])) for h in e["hosts"]), srv=e["srv"],
                               tls=e.get("tls"), replica_set=e.get("replica_set"), auth_source=e.get("auth_source"),
                               auth_mechanism=e.get("auth_mechanism")),
        password=None if p is None else SealedSecret(p["wrapping_key_id"], bytes(p["wrapped_key"]),
                                                     bytes(p["nonce"]), bytes(p["ciphertext"])),
        created_at=d["created_at"])


class MongoDataConnections:
    def __init__(self, database: AsyncDatabase) -> None:
        self._connections = database[COLLECTION]

    async def create_indexes(self) -> None:
        await self._connections.create_index([("resource_id", ASCENDING), ("name", ASCENDING)], unique=True)

    async def create(self, connection: DataConnection) -> bool:
        try:
            await self._connections.insert_one(_to_document(connection))
        except DuplicateKeyError:
            return False
        return True

    async def get(self, resource_id: str, name: str) -> DataConnection | None:
        found = await self._connections.find_one({"resource_id": resource_id, "name": name})
        return _from_document(found) if found else None

    async def list_for(self, resource_id: str) -> list[DataConnection]:
        found = await self._connections.find({"resource_id": resource_id}).sort("name", ASCENDING).to_list(1000)
        return [_from_document(d) for d in found]

    async def delete(self, resource_id: str, name: str) -> bool:
        result = await self._connections.delete_one({"resource_id": resource_id, "name": name})
        return result.deleted_count == 1

    async def delete_resource(self, resource_id: str) -> int:
        return (await self._connections.delete_many({"resource_id": resource_id})).deleted_count
