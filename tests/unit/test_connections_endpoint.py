"""The data-connection endpoint reader: what it accepts, and what it refuses by name."""

from __future__ import annotations

import pytest

from services.connections.endpoint import HostPort, hosts_of, parse_endpoint
from services.connections.errors import EndpointRefused


def test_host_and_port_alone_is_a_mongodb_endpoint_on_the_default_port():
    parsed = parse_endpoint("DB.Contoso.example")
    assert parsed.endpoint.hosts == (HostPort("db.contoso.example", 27017),)
    assert not parsed.endpoint.srv and not parsed.endpoint.uses_tls and parsed.username is None


def test_an_atlas_style_uri_keeps_tls_replica_set_auth_source_and_drops_write_options():
    parsed = parse_endpoint("mongodb://reader:p%40ss%3Aword@a.example.com:27018,b.example.com/kb?tls=true"
                            "&replicaSet=rs0&authSource=admin&retryWrites=true&w=majority&appName=Cluster0")
    endpoint = parsed.endpoint
    assert endpoint.hosts == (HostPort("a.example.com", 27018), HostPort("b.example.com", 27017))
    assert (endpoint.tls, endpoint.replica_set, endpoint.auth_source) == (True, "rs0", "admin")
    assert (parsed.username, parsed.password, parsed.database) == ("reader", "p@ss:word", "kb")
    assert endpoint.canonical() == ("mongodb://a.example.com:27018,b.example.com:27017/"
                                    "?authSource=admin&replicaSet=rs0&tls=true")
    assert "p@ss" not in repr(parsed), "a password never shows in a repr (logs, tracebacks)"


def test_srv_implies_tls_and_takes_one_host_without_port():
    endpoint = parse_endpoint("mongodb+srv://cluster0.abcde.mongodb.net/?retryWrites=true").endpoint
    assert endpoint.srv and endpoint.uses_tls and endpoint.hosts[0].host == "cluster0.abcde.mongodb.net"
    for wrong in ("mongodb+srv://a.example.com,b.example.com/", "mongodb+srv://a.example.com:27017/"):
        with pytest.raises(EndpointRefused):
            parse_endpoint(wrong)


def test_same_servers_ignores_order_options_and_credentials():
    registered = parse_endpoint("mongodb://a.example.com,b.example.com:27017/?tls=true").endpoint
    asked = parse_endpoint("mongodb://user:pw@b.example.com:27017,a.example.com/kb?authSource=x").endpoint
    assert registered.same_servers(asked)
    assert not registered.same_servers(parse_endpoint("a.example.com").endpoint)
    assert not registered.same_servers(parse_endpoint("mongodb+srv://a.example.com").endpoint)


@pytest.mark.parametrize("endpoint, says", [
    ("mongodb://h.example.com/?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:k8s",
     "Only SCRAM"),
    ("mongodb://h.example.com/?authMechanism=MONGODB-AWS", "Only SCRAM"),
    ("mongodb://h.example.com/?authMechanism=GSSAPI", "Only SCRAM"),
    ("mongodb://h.example.com/?authMechanismProperties=ENVIRONMENT:azure", "'authMechanismProperties' is not allowed"),
    ("mongodb://h.example.com/?tls=true&tlsCAFile=/etc/passwd", "'tlsCAFile' is not allowed"),
    ("mongodb://h.example.com/?tlsCertificateKeyFile=/var/run/secrets/key.pem", "'tlsCertificateKeyFile' is not"),
    ("mongodb://h.example.com/?tlsCRLFile=/proc/self/environ", "'tlsCRLFile' is not allowed"),
    ("mongodb://h.example.com/?tlsInsecure=true", "'tlsInsecure' is not allowed"),
    ("mongodb://h.example.com/?tlsAllowInvalidCertificates=true", "'tlsAllowInvalidCertificates' is not"),
    ("mongodb://h.example.com/?proxyHost=10.0.0.1", "'proxyHost' is not allowed"),
    ("mongodb://h.example.com/?tls=true&ssl=false", "given twice"),
    ("mongodb://h.example.com/?tls=maybe", "true or false"),
    ("http://h.example.com/", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("mongodb://h.example.com:99999/", "port"),
    ("mongodb://h_bad.example.com/", "not a valid host"),
    ("mongodb://2130706433/", "four decimal numbers"),
    ("mongodb://0x7f000001/", "four decimal numbers"),
    ("mongodb://127.1/", "four decimal numbers"),
    ("mongodb://[::1/", "IPv6"),
    ("mongodb://h.example.com /", "without spaces"),
    ("mongodb://:pw@h.example.com/", "user name is empty"),
    ("", "without spaces"),
])
def test_unsafe_or_malformed_endpoints_are_refused_by_name(endpoint: str, says: str):
    with pytest.raises(EndpointRefused) as refused:
        parse_endpoint(endpoint)
    assert says in refused.value.message
    assert "/etc/passwd" not in refused.value.message


def test_a_password_is_never_quoted_in_a_refusal():
    with pytest.raises(EndpointRefused) as refused:
        parse_endpoint("mongodb://reader:hunter2-canary@h.example.com/?tlsInsecure=true")
    assert "hunter2-canary" not in str(refused.value)


def test_platform_store_uris_give_their_hosts_whatever_their_options():
    assert hosts_of("mongodb://admin:x@mongodb:27017,mongo-2/?authMechanism=MONGODB-X509&tlsCAFile=/ca.pem") == (
        HostPort("mongodb", 27017), HostPort("mongo-2", 27017))
    assert hosts_of("127.0.0.1:28017") == (HostPort("127.0.0.1", 28017),)
