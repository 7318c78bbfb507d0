"""MongoDB endpoints parsed by our own strict reader, never handed raw to the driver.

Accepted: ``host[:port]``, ``mongodb://[user[:password]@]host[:port][,host[:port]...][/db][?options]``
and ``mongodb+srv://[user[:password]@]host[/db][?options]``. Options are allow-listed: TLS on or
off, replica set, auth source and SCRAM mechanisms; a few that only tune writes or naming
(``retryWrites``, ``w``, ``appName``, ``readPreference``...) are accepted and dropped, because
Atlas connection strings carry them. Everything else is refused by name: other mechanisms
(``MONGODB-OIDC`` would send the pod's identity token to the caller's host), ``authMechanismProperties``,
every ``*File`` option (a probe of the server's files), ``tlsInsecure`` and its relatives.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

from services.connections.errors import EndpointRefused

DEFAULT_PORT = 27017
MAX_ENDPOINT_CHARS = 2048
MAX_HOSTS = 16
SCRAM_MECHANISMS = ("SCRAM-SHA-1", "SCRAM-SHA-256")
# Accepted and not forwarded: retrieval reads with its own settings.
DROPPED_OPTIONS = frozenset({"retrywrites", "retryreads", "w", "journal", "appname", "readpreference",
                             "directconnection", "compressors"})
_BOOLEANS = {"true": True, "false": False}
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?$")
_NUMERIC_LOOKING = re.compile(r"^(?:0x[0-9a-f]+|[0-9.]+)$", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True, order=True)
class HostPort:
    host: str  # lower-case name, or an IP literal (IPv6 without brackets)
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class MongoEndpoint:
    """Where a customer's server is and how to speak to it; never holds credentials."""

    hosts: tuple[HostPort, ...]
    srv: bool = False
    tls: bool | None = None
    replica_set: str | None = None
    auth_source: str | None = None
    auth_mechanism: str | None = None

    @property
    def uses_tls(self) -> bool:
        return self.tls if self.tls is not None else self.srv  # +srv implies TLS, as in the driver

    def same_servers(self, other: MongoEndpoint) -> bool:
        """Whether two endpoints name the same servers (order of hosts and options aside)."""
        return self.srv == other.srv and set(self.hosts) == set(other.hosts)

    def canonical(self) -> str:
        options = {"tls": "true" if self.uses_tls else "false", "replicaSet": self.replica_set,
                   "authSource": self.auth_source, "authMechanism": self.auth_mechanism}
        query = "&".join(f"{k}={v}" for k, v in sorted(options.items()) if v is not None)
        hosts = ",".join(str(h) for h in self.hosts) if not self.srv else self.hosts[0].host
        return f"{'mongodb+srv' if self.srv else 'mongodb'}://{hosts}/?{query}"


@dataclass(frozen=True)
class ParsedEndpoint:
    endpoint: MongoEndpoint
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    database: str | None = None  # the path's database, the default auth source


def parse_endpoint(text: str) -> ParsedEndpoint:
    """Raises EndpointRefused naming what is wrong (never quoting a credential)."""
    if not text or len(text) > MAX_ENDPOINT_CHARS or any(c.isspace() or ord(c) < 32 for c in text):
        raise EndpointRefused("The endpoint must be a MongoDB connection string or host:port without spaces.")
    scheme, separator, rest = text.partition("://")
    if not separator:
        scheme, rest = "mongodb", text
    scheme = scheme.lower()
    if scheme not in ("mongodb", "mongodb+srv"):
        raise EndpointRefused(f"Unsupported endpoint scheme '{scheme[:20]}'; use mongodb:// or mongodb+srv://.")
    srv = scheme == "mongodb+srv"
    authority, query = _split_authority(rest)
    userinfo, at, host_list = authority.rpartition("@")
    username, password = _credentials(userinfo) if at else (None, None)
    hosts = _hosts(host_list, srv=srv)
    database = _path_database(rest[len(authority):].split("?", 1)[0])
    options = _options(query)
    tls = options.get("tls")
    return ParsedEndpoint(
        endpoint=MongoEndpoint(hosts=hosts, srv=srv, tls=tls if isinstance(tls, bool) else None,
                               replica_set=_text(options, "replicaset"),
                               auth_source=_text(options, "authsource") or database,
                               auth_mechanism=_text(options, "authmechanism")),
        username=username, password=password, database=database)


def _text(options: dict[str, str | bool], name: str) -> str | None:
    value = options.get(name)
    return value if isinstance(value, str) else None


def hosts_of(uri: str) -> tuple[HostPort, ...]:
    """The hosts of any connection string or host:port, whatever its options (the platform's own
    store URIs, which may use options a data connection may not)."""
    scheme, separator, rest = uri.partition("://")
    if not separator:
        scheme, rest = "mongodb", uri
    authority, _ = _split_authority(rest)
    return _hosts(authority.rpartition("@")[2], srv=scheme.lower() == "mongodb+srv")


def _split_authority(rest: str) -> tuple[str, str]:
    end = len(rest)
    for stop in ("/", "?"):
        position = rest.find(stop, rest.rfind("@") + 1)
        if position != -1:
            end = min(end, position)
    query = rest.split("?", 1)[1] if "?" in rest[end:] else ""
    return rest[:end], query


def _credentials(userinfo: str) -> tuple[str, str | None]:
    user, colon, password = userinfo.partition(":")
    if not user:
        raise EndpointRefused("The endpoint's user name is empty.")
    return unquote(user), unquote(password) if colon else None


def _hosts(host_list: str, *, srv: bool) -> tuple[HostPort, ...]:
    parts = host_list.split(",")
    if not host_list or len(parts) > MAX_HOSTS:
        raise EndpointRefused(f"The endpoint must name between 1 and {MAX_HOSTS} hosts.")
    if srv and len(parts) != 1:
        raise EndpointRefused("A mongodb+srv endpoint names exactly one host name.")
    hosts = tuple(_host_port(part, srv=srv) for part in parts)
    return tuple(sorted(set(hosts), key=hosts.index))


def _host_port(part: str, *, srv: bool) -> HostPort:
    if part.startswith("["):
        literal, bracket, after = part[1:].partition("]")
        if not bracket or (after and not after.startswith(":")):
            raise EndpointRefused("An IPv6 host must be written as [address]:port.")
        host, port_text = _ipv6(literal), after[1:] if after else ""
    else:
        host, _, port_text = part.partition(":")
        host = _hostname(host)
    if srv and port_text:
        raise EndpointRefused("A mongodb+srv endpoint takes no port.")
    if not port_text:
        return HostPort(host, DEFAULT_PORT)
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise EndpointRefused("An endpoint port must be a number from 1 to 65535.")
    return HostPort(host, int(port_text))


def _ipv6(literal: str) -> str:
    try:
        return str(ipaddress.IPv6Address(literal))
    except ValueError:
        raise EndpointRefused("The endpoint's IPv6 address is not valid.") from None


def _hostname(host: str) -> str:
    host = host.lower().rstrip(".")
    if _NUMERIC_LOOKING.match(host):  # 2130706433, 0x7f000001, 127.1: only a plain dotted quad
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            raise EndpointRefused("The endpoint's IPv4 address must be written as four decimal numbers.") from None
    if not _HOSTNAME.match(host):
        raise EndpointRefused("The endpoint's host is not a valid host name or IP address.")
    return host


def _path_database(path: str) -> str | None:
    name = unquote(path.lstrip("/"))
    if not name:
        return None
    if not _NAME.match(name):
        raise EndpointRefused("The endpoint's database name is not valid.")
    return name


def _options(query: str) -> dict[str, str | bool]:
    options: dict[str, str | bool] = {}
    if not query:
        return options
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True, separator="&")
    except ValueError:
        raise EndpointRefused("The endpoint's options are not valid.") from None
    for raw_name, value in pairs:
        name = raw_name.lower()
        if name in options or (name in ("tls", "ssl") and "tls" in options):
            raise EndpointRefused(f"The endpoint option '{raw_name[:40]}' is given twice.")
        if name in DROPPED_OPTIONS:
            continue
        options["tls" if name == "ssl" else name] = _option_value(raw_name, name, value)
    return options


def _option_value(raw_name: str, name: str, value: str) -> str | bool:
    if name in ("tls", "ssl"):
        if value.lower() not in _BOOLEANS:
            raise EndpointRefused(f"The endpoint option '{raw_name}' must be true or false.")
        return _BOOLEANS[value.lower()]
    if name in ("replicaset", "authsource"):
        if not _NAME.match(value):
            raise EndpointRefused(f"The endpoint option '{raw_name}' is not a valid name.")
        return value
    if name == "authmechanism":
        if value.upper() not in SCRAM_MECHANISMS:
            raise EndpointRefused("Only SCRAM-SHA-1 and SCRAM-SHA-256 authentication is supported.")
        return value.upper()
    raise EndpointRefused(f"The endpoint option '{raw_name[:40]}' is not allowed; allowed: tls, replicaSet, "
                          "authSource, authMechanism (SCRAM).")
