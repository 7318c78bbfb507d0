"""Hand-written fakes of the data-connection ports: the store in a dict, a resolver in a table."""

from __future__ import annotations

import ipaddress

from services.connections.endpoint import HostPort
from services.connections.model import DataConnection


class InMemoryDataConnections:
    """services.connections.model.DataConnectionStore in a dict keyed by (resource, name)."""

    def __init__(self) -> None:
        self.connections: dict[tuple[str, str], DataConnection] = {}

    async def create(self, connection: DataConnection) -> bool:
        key = (connection.resource_id, connection.name)
        if key in self.connections:
            return False
        self.connections[key] = connection
        return True

    async def get(self, resource_id: str, name: str) -> DataConnection | None:
        return self.connections.get((resource_id, name))

    async def list_for(self, resource_id: str) -> list[DataConnection]:
        return [c for (owner, _), c in sorted(self.connections.items()) if owner == resource_id]

    async def delete(self, resource_id: str, name: str) -> bool:
        return self.connections.pop((resource_id, name), None) is not None

    async def delete_resource(self, resource_id: str) -> int:
        doomed = [key for key in self.connections if key[0] == resource_id]
        for key in doomed:
            del self.connections[key]
        return len(doomed)


class TableResolver:
    """services.connections.policy.Resolver answering from a table; IP literals resolve to themselves.
    An unknown name raises OSError, as getaddrinfo does."""

    def __init__(self, names: dict[str, list[str]] | None = None,
                 srv: dict[str, list[HostPort]] | None = None) -> None:
        self.names = names or {}
        self.srv = srv or {}
        self.asked: list[str] = []

    async def addresses(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            pass
        if host not in self.names:
            raise OSError(f"unknown host {host}")
        return self.names[host]

    async def srv_targets(self, name: str) -> list[HostPort]:
        self.asked.append(f"srv:{name}")
        if name not in self.srv:
            raise OSError(f"no SRV record for {name}")
        return self.srv[name]
