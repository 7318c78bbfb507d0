"""Which servers a tenant's data connection may reach, checked before any socket to them opens.

Every host of an endpoint is resolved (IP literals are taken as they are; ``+srv`` names through
their SRV records) and *every* address must pass: the platform's own stores (by host:port, on
any of their addresses) are always refused; public unicast addresses pass; loopback, private,
link-local (cloud metadata at 169.254.169.254), shared, reserved and multicast ranges, IPv4
inside IPv6 included, pass only where an operator allowed that ``CIDR:port``. The checked
address is what the driver then dials when the connection is not TLS; with TLS the driver gets
the host name (certificate verification needs it) and a DNS answer that changed in between would
have to present a certificate for that name, which an internal server cannot.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from services.connections.endpoint import HostPort, MongoEndpoint
from services.connections.errors import DatabaseRefused, EndpointRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
PLATFORM_DATABASE_PREFIX = "residency_"
SYSTEM_DATABASES = frozenset({"admin", "local", "config"})
PLATFORM_CACHE_S = 60.0


@dataclass(frozen=True)
class AllowedNetwork:
    """An operator's exception to the private-range rule: one port within one network."""

    network: IPNetwork
    port: int

    @classmethod
    def parse(cls, text: str) -> AllowedNetwork:
        """``127.0.0.1/32:27018`` or ``[fd00::/8]:27017``."""
        if text.startswith("["):
            cidr, _, port = text[1:].partition("]:")
        else:
            cidr, _, port = text.rpartition(":")
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"allowed endpoint {text!r}: expected CIDR:port")
        return cls(ipaddress.ip_network(cidr, strict=True), int(port))

    def admits(self, address: IPAddress, port: int) -> bool:
        return port == self.port and address.version == self.network.version and address in self.network


@dataclass(frozen=True)
class Target:
    """One vetted server: what the driver dials (``host``) and the address that was checked."""

    host: str
    port: int
    address: str


class Resolver(Protocol):
    async def addresses(self, host: str, port: int) -> list[str]:
        """Every address a host name resolves to (an IP literal resolves to itself)."""
        ...

    async def srv_targets(self, name: str) -> list[HostPort]:
        """The hosts of ``_mongodb._tcp.<name>``."""
        ...


class SystemResolver:
    """The resolver the driver itself would use (getaddrinfo), and dnspython for SRV records."""

    async def addresses(self, host: str, port: int) -> list[str]:
        if _literal(host) is not None:
            return [host]
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return sorted({str(info[4][0]) for info in infos})

    async def srv_targets(self, name: str) -> list[HostPort]:
        import dns.asyncresolver  # dnspython, a dependency of pymongo

        answer = await dns.asyncresolver.resolve(f"_mongodb._tcp.{name}", "SRV")
        return [HostPort(str(record.target).rstrip(".").lower(), int(record.port)) for record in answer]


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast, looking through IPv4-mapped and 6to4 IPv6 addresses."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return is_public(embedded)
        if address.teredo is not None:
            return False
    return address.is_global and not address.is_multicast


class EndpointPolicy:
    def __init__(self, *, allowed: Sequence[AllowedNetwork] = (), platform_stores: Sequence[HostPort] = (),
                 resolver: Resolver | None = None, timeout_s: float = 1.0) -> None:
        self._allowed = tuple(allowed)
        self._platform_stores = tuple(platform_stores)
        self._resolver = resolver or SystemResolver()
        self._timeout_s = timeout_s
        self._platform_addresses: tuple[frozenset[tuple[str, int]], float] | None = None

    async def vet(self, endpoint: MongoEndpoint) -> list[Target]:
        """The servers of ``endpoint`` in order, each of whose addresses passed; raises EndpointRefused."""
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._vet(endpoint)
        except TimeoutError:
            raise EndpointRefused(f"The endpoint's host could not be resolved within {self._timeout_s:g} s.") from None
        except (OSError, UnicodeError):
            raise EndpointRefused("The endpoint's host could not be resolved.") from None
        except Exception as error:  # dnspython's NXDOMAIN, NoAnswer...: the name does not resolve
            if type(error).__module__.startswith("dns."):
                raise EndpointRefused("The endpoint's SRV record could not be resolved.") from None
            raise

    async def _vet(self, endpoint: MongoEndpoint) -> list[Target]:
        hosts = list(endpoint.hosts)
        if endpoint.srv:
            hosts = await self._srv_hosts(endpoint.hosts[0].host)
        platform = await self._platform()
        targets = []
        for host in hosts:
            if (host.host, host.port) in platform:
                raise EndpointRefused("The endpoint is one of the platform's own stores.")
            addresses = await self._resolver.addresses(host.host, host.port)
            if not addresses:
                raise EndpointRefused("The endpoint's host could not be resolved.")
            for text in addresses:
                self._check_address(ipaddress.ip_address(text), host.port, platform)
            literal = _literal(host.host) is not None
            dial = host.host if endpoint.uses_tls or literal else addresses[0]
            targets.append(Target(host=dial, port=host.port, address=addresses[0]))
        return targets

    async def _srv_hosts(self, name: str) -> list[HostPort]:
        if name.count(".") < 2:
            raise EndpointRefused("A mongodb+srv host name needs at least three labels.")
        parent = name.split(".", 1)[1]
        hosts = await self._resolver.srv_targets(name)
        if not hosts:
            raise EndpointRefused("The endpoint's SRV record names no hosts.")
        for host in hosts:  # the driver's rule: SRV targets stay within the name's domain
            if not host.host.endswith("." + parent):
                raise EndpointRefused("An SRV target of the endpoint lies outside its domain.")
        return hosts

    def _check_address(self, address: IPAddress, port: int, platform: frozenset[tuple[str, int]]) -> None:
        if (str(address), port) in platform:
            raise EndpointRefused("The endpoint is one of the platform's own stores.")
        if is_public(address) or any(allowed.admits(address, port) for allowed in self._allowed):
            return
        raise EndpointRefused("The endpoint resolves to a loopback, private, link-local or reserved address, "
                              "which data connections may not reach.")

    async def _platform(self) -> frozenset[tuple[str, int]]:
        """The platform stores by name and by every address they resolve to (cached a minute)."""
        now = time.monotonic()
        if self._platform_addresses is not None and now - self._platform_addresses[1] < PLATFORM_CACHE_S:
            return self._platform_addresses[0]
        found: set[tuple[str, int]] = set()
        for store in self._platform_stores:
            found.add((store.host, store.port))
            with contextlib.suppress(OSError):  # an unresolvable platform store is still refused by its name
                addresses = await self._resolver.addresses(store.host, store.port)
                found.update((address, store.port) for address in addresses)
        self._platform_addresses = (frozenset(found), now)
        return self._platform_addresses[0]


def check_database(name: str) -> None:
    """The platform's own databases and the server's system databases are never a data source."""
    lowered = name.lower()
    if lowered.startswith(PLATFORM_DATABASE_PREFIX) or lowered in SYSTEM_DATABASES:
        raise DatabaseRefused(f"The database '{name[:64]}' cannot be used as a data source.")


def check_collection(name: str) -> None:
    if not name or len(name) > 120 or name.startswith("system.") or "$" in name or "\x00" in name:
        raise DatabaseRefused("The collection name is not allowed as a data source.")
