"""The endpoint policy: which addresses a data connection may reach, decided before any socket opens.

A connect spy replaces every way this process could open a TCP connection (socket.connect,
create_connection, the event loop's connects): each test here fails if anything dials out, so
no test dials a metadata or private address, and a refusal is shown to happen before connecting.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from datetime import UTC, datetime

import pytest

from contracts.grounding_requests_v2 import ConnectionDataSource
from services.connections.endpoint import HostPort, parse_endpoint
from services.connections.errors import EndpointRefused
from services.connections.model import DataConnection
from services.connections.policy import AllowedNetwork, EndpointPolicy, SystemResolver, is_public
from services.retrieval.adapters.mongo_documents import MongoCustomerDocuments, ReadLimits
from tests.unit.connection_fakes import TableResolver

PLATFORM = [HostPort("127.0.0.1", 28017), HostPort("mongodb", 27017)]
NAMES = {"docs.contoso.example": ["93.184.216.34"], "mongodb": ["10.0.0.7"],
         "rebind.example": ["93.184.216.35", "169.254.169.254"], "localhost": ["127.0.0.1", "::1"]}


class ConnectSpy:
    def __init__(self) -> None:
        self.attempts: list[object] = []

    def refuse(self, *args: object, **kwargs: object) -> None:
        self.attempts.append(args[1:2] or kwargs)
        raise AssertionError("a socket was about to connect")


def install_spy(monkeypatch: pytest.MonkeyPatch) -> ConnectSpy:
    spy = ConnectSpy()

    async def refuse_async(*args: object, **kwargs: object) -> None:
        spy.refuse(*args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", spy.refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", spy.refuse)
    monkeypatch.setattr(socket, "create_connection", spy.refuse)
    monkeypatch.setattr(asyncio.BaseEventLoop, "create_connection", refuse_async)
    monkeypatch.setattr(asyncio.BaseEventLoop, "sock_connect", refuse_async)
    return spy


@pytest.fixture
def connect_spy(monkeypatch: pytest.MonkeyPatch) -> ConnectSpy:
    spy = install_spy(monkeypatch)
    yield spy
    assert spy.attempts == [], f"sockets tried to connect: {spy.attempts}"


@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
async def test_the_spy_sees_the_drivers_connections(monkeypatch: pytest.MonkeyPatch):
    """Without this, a spy that missed the driver's way of connecting would prove nothing."""
    spy = install_spy(monkeypatch)
    documents = MongoCustomerDocuments(policy=policy("127.0.0.1/32:9"), sealer=None,
                                       limits=ReadLimits(connect_timeout_ms=300, operation_timeout_ms=300))
    allowed = DataConnection(resource_id="contoso", name="local", database="kb", username=None, password=None,
                             endpoint=parse_endpoint("127.0.0.1:9").endpoint,
                             created_at=datetime(2026, 12, 1, tzinfo=UTC))
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver makes of the refused connect
        await documents.candidates(allowed, ConnectionDataSource(connection="local", database_name="kb",
                                                                 collection_name="docs"), ["anything"], 10)
    await documents.close()
    assert spy.attempts, "the driver's connection attempt went unseen"


def policy(*allowed: str, resolver: TableResolver | None = None) -> EndpointPolicy:
    return EndpointPolicy(allowed=[AllowedNetwork.parse(a) for a in allowed], platform_stores=PLATFORM,
                          resolver=resolver or TableResolver(NAMES), timeout_s=1.0)


@pytest.mark.parametrize("endpoint", [
    "169.254.169.254",                  # cloud metadata (link-local)
    "[fd00:ec2::254]",                  # AWS metadata over IPv6 (unique local)
    "127.0.0.1:27018", "[::1]:27017", "localhost",  # loopback, by address and by name
    "10.0.0.1", "172.16.5.4", "192.168.1.1",        # private ranges
    "100.64.0.1",                       # shared address space (carrier-grade NAT)
    "0.0.0.0", "[::]",                  # unspecified
    "224.0.0.1",                        # multicast
    "[::ffff:10.0.0.1]",                # IPv4-mapped IPv6
    "[2002:a00:1::1]",                  # 6to4 around a private address
    "rebind.example",                   # one public and one metadata address: every address must pass
])
async def test_private_loopback_link_local_and_metadata_addresses_are_refused(endpoint: str, connect_spy):
    with pytest.raises(EndpointRefused, match="loopback, private, link-local or reserved"):
        await policy().vet(parse_endpoint(endpoint).endpoint)


@pytest.mark.parametrize("endpoint", ["127.0.0.1:28017", "mongodb:27017", "10.0.0.7:27017"])
async def test_the_platforms_own_stores_are_refused_even_where_an_operator_allows_the_range(endpoint, connect_spy):
    allowing = policy("127.0.0.0/8:28017", "10.0.0.0/8:27017")
    with pytest.raises(EndpointRefused, match="platform's own stores"):
        await allowing.vet(parse_endpoint(endpoint).endpoint)


async def test_an_allowed_cidr_and_port_pass_and_nothing_else_nearby(connect_spy):
    allowing = policy("127.0.0.1/32:28018")
    [target] = await allowing.vet(parse_endpoint("127.0.0.1:28018").endpoint)
    assert (target.host, target.port) == ("127.0.0.1", 28018)
    for neighbour in ("127.0.0.1:28019", "127.0.0.2:28018"):
        with pytest.raises(EndpointRefused):
            await allowing.vet(parse_endpoint(neighbour).endpoint)


async def test_a_public_host_is_dialled_at_the_checked_address_unless_tls_needs_its_name(connect_spy):
    [plain] = await policy().vet(parse_endpoint("docs.contoso.example").endpoint)
    assert (plain.host, plain.address) == ("93.184.216.34", "93.184.216.34")
    [tls] = await policy().vet(parse_endpoint("mongodb://docs.contoso.example/?tls=true").endpoint)
    assert (tls.host, tls.address) == ("docs.contoso.example", "93.184.216.34")


async def test_srv_targets_are_checked_like_hosts_and_must_stay_in_the_domain(connect_spy):
    names = {**NAMES, "a.cluster.contoso.example": ["93.184.216.40"], "b.cluster.contoso.example": ["10.9.9.9"]}
    good = TableResolver(names, srv={"db.cluster.contoso.example": [HostPort("a.cluster.contoso.example", 27017)]})
    [target] = await policy(resolver=good).vet(parse_endpoint("mongodb+srv://db.cluster.contoso.example").endpoint)
    assert target.host == "a.cluster.contoso.example"  # +srv means TLS: the driver needs the name
    private = TableResolver(names, srv={"db.cluster.contoso.example": [HostPort("b.cluster.contoso.example", 27017)]})
    with pytest.raises(EndpointRefused, match="private"):
        await policy(resolver=private).vet(parse_endpoint("mongodb+srv://db.cluster.contoso.example").endpoint)
    outside = TableResolver(names, srv={"db.cluster.contoso.example": [HostPort("docs.contoso.example", 27017)]})
    with pytest.raises(EndpointRefused, match="outside its domain"):
        await policy(resolver=outside).vet(parse_endpoint("mongodb+srv://db.cluster.contoso.example").endpoint)


async def test_an_unresolvable_or_slow_host_is_refused_within_the_time_limit(connect_spy):
    with pytest.raises(EndpointRefused, match="could not be resolved"):
        await policy().vet(parse_endpoint("nowhere.example").endpoint)

    class SlowResolver(TableResolver):
        async def addresses(self, host: str, port: int) -> list[str]:
            await asyncio.sleep(30)
            return []

    slow = EndpointPolicy(resolver=SlowResolver(), timeout_s=0.1)
    with pytest.raises(EndpointRefused, match=r"within 0\.1 s"):
        await slow.vet(parse_endpoint("slow.example").endpoint)


async def test_the_system_resolver_takes_ip_literals_without_asking_dns(connect_spy):
    assert await SystemResolver().addresses("169.254.169.254", 27017) == ["169.254.169.254"]
    assert await SystemResolver().addresses("::1", 27017) == ["::1"]


async def test_retrieval_refuses_a_connection_whose_endpoint_fails_before_any_socket_opens(connect_spy):
    documents = MongoCustomerDocuments(policy=policy(), sealer=None, limits=ReadLimits())
    metadata = DataConnection(resource_id="contoso", name="meta", database="kb", username=None, password=None,
                              endpoint=parse_endpoint("169.254.169.254:80").endpoint,
                              created_at=datetime(2026, 12, 1, tzinfo=UTC))
    source = ConnectionDataSource(connection="meta", database_name="kb", collection_name="docs")
    with pytest.raises(EndpointRefused):
        await documents.candidates(metadata, source, ["anything"], 10)
    await documents.close()


def test_public_means_globally_routable_unicast():
    assert is_public(ipaddress.ip_address("93.184.216.34"))
    assert is_public(ipaddress.ip_address("2606:4700::1111"))
    for address in ("203.0.113.9", "198.18.0.1", "192.0.0.1", "fe80::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2"):
        assert not is_public(ipaddress.ip_address(address)), address
