"""A resource's data connection, as the control plane keeps it (credentials sealed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from services.connections.endpoint import MongoEndpoint
from services.runtime.sealing import SealedSecret

CONNECTION_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"


@dataclass(frozen=True)
class DataConnection:
    """One MongoDB database of a customer that one resource may ground requests on."""

    resource_id: str
    name: str
    endpoint: MongoEndpoint
    database: str
    username: str | None
    password: SealedSecret | None = field(repr=False)
    created_at: datetime

    def view(self) -> dict[str, object]:
        """What the control plane shows: never the password, sealed or not."""
        return {"name": self.name, "resource_id": self.resource_id, "endpoint": self.endpoint.canonical(),
                "database_name": self.database, "username": self.username,
                "has_password": self.password is not None, "created_at": self.created_at.isoformat()}


def credentials_associated_data(resource_id: str, name: str) -> bytes:
    """Binds sealed credentials to their resource and connection: a copy elsewhere does not open."""
    return f"residency/data-connection/v1/{resource_id}/{name}".encode()


class DataConnectionStore(Protocol):
    """The region's data connections in the control-plane store; every query names the resource."""

    async def create(self, connection: DataConnection) -> bool:
        """False when the resource already has a connection of that name."""
        ...

    async def get(self, resource_id: str, name: str) -> DataConnection | None: ...

    async def list_for(self, resource_id: str) -> list[DataConnection]: ...

    async def delete(self, resource_id: str, name: str) -> bool: ...

    async def delete_resource(self, resource_id: str) -> int: ...
