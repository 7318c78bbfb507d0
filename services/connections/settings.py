"""Settings of data connections, shared by the services that use them (gateway, retrieval).

A mixin: each service's settings class inherits it and keeps its own env prefix, so the gateway
reads ``RESIDENCY_GATEWAY_CONNECTIONS_KEY`` and retrieval ``RESIDENCY_RETRIEVAL_CONNECTIONS_KEY``
(the same key of the region in both).
"""

from __future__ import annotations

import base64
import binascii

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

from services.connections.endpoint import HostPort, hosts_of
from services.connections.errors import EndpointRefused
from services.connections.policy import AllowedNetwork, EndpointPolicy, Resolver
from services.runtime.sealing import KEY_BYTES, SecretSealer, StaticKeyProvider


class DataConnectionSettings(BaseSettings):
    connections_key: SecretStr | None = Field(None, description=(
        "Base64 of the region's 32-byte key that wraps data-connection credentials; without it no "
        "connection with a password can be registered or used."))
    connections_key_id: str = Field("connections-1", min_length=1, max_length=64,
                                    description="Name of connections_key (stored beside each sealed secret).")
    previous_connections_keys: dict[str, SecretStr] = Field(default_factory=dict, description=(
        "Older connections keys (ID -> base64) that still open credentials sealed before a rotation."))
    allowed_private_endpoints: list[str] = Field(default_factory=list, description=(
        "CIDR:port exceptions to the private-range rule, e.g. 10.20.0.0/16:27017 for customer servers "
        "inside the platform's network. The platform's own stores are refused regardless."))
    platform_stores: list[str] = Field(default_factory=list, description=(
        "host:port (or mongodb:// URIs) of the platform's own stores, refused as data sources; the "
        "service's own store URI is added automatically."))
    endpoint_resolve_timeout_s: float = Field(1.0, gt=0, le=10, description=(
        "Longest time to resolve and check a data source's hosts."))

    @field_validator("allowed_private_endpoints")
    @classmethod
    def _allowed_parse(cls, values: list[str]) -> list[str]:
        for value in values:
            AllowedNetwork.parse(value)
        return values

    def connection_keys(self) -> dict[str, bytes]:
        keys = {key_id: _key(key_id, value) for key_id, value in self.previous_connections_keys.items()}
        if self.connections_key is not None:
            keys[self.connections_key_id] = _key(self.connections_key_id, self.connections_key)
        return keys

    def secret_sealer(self) -> SecretSealer | None:
        if self.connections_key is None:
            return None
        return SecretSealer(StaticKeyProvider(self.connection_keys(), purpose="connections"), self.connections_key_id)

    def endpoint_policy(self, *own_store_uris: str, resolver: Resolver | None = None) -> EndpointPolicy:
        stores: list[HostPort] = []
        for text in [*self.platform_stores, *own_store_uris]:
            try:
                stores += hosts_of(text)
            except EndpointRefused as error:
                raise ValueError(f"platform store {text!r} is not a host:port or mongodb:// URI") from error
        return EndpointPolicy(allowed=[AllowedNetwork.parse(a) for a in self.allowed_private_endpoints],
                              platform_stores=stores, resolver=resolver,
                              timeout_s=self.endpoint_resolve_timeout_s)


def _key(key_id: str, value: SecretStr) -> bytes:
    try:
        key = base64.b64decode(value.get_secret_value(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"connections key {key_id!r} is not base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"connections key {key_id!r} must be 32 bytes (AES-256)")
    return key
