"""Kafka TLS/SASL and MongoDB TLS/authentication: settings every service has (``ServiceSettings``
inherits them, each service under its own prefix, e.g. ``RESIDENCY_FILTER_KAFKA_SECURITY_PROTOCOL``).

Kafka: ``KAFKA_SECURITY_PROTOCOL`` PLAINTEXT (default), SSL or SASL_SSL (SASL_PLAINTEXT is refused:
a password in clear on the network); SASL mechanisms PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; the CA
bundle that signed the brokers' certificates, and a client certificate for mutual TLS.
MongoDB: the same may be written into the URI (``tls=true&tlsCAFile=...``); these settings add to
it, so the URI in a Secret need not carry the password. Passwords are ``SecretStr``: never printed.
"""

from __future__ import annotations

import ssl
from typing import Any, Literal

from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

KafkaProtocol = Literal["PLAINTEXT", "SSL", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
_SASL: dict[str, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
    "PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}


class ConnectionSecuritySettings(BaseSettings):
    kafka_security_protocol: KafkaProtocol = Field("PLAINTEXT", description="How to reach the brokers.")
    kafka_sasl_mechanism: SaslMechanism = Field("SCRAM-SHA-512", description="SASL mechanism (SASL_SSL).")
    kafka_sasl_username: str | None = Field(None, description="SASL user (SASL_SSL).")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password (SASL_SSL).")
    kafka_ssl_ca_file: str | None = Field(None, description="CA bundle of the brokers' certificates; "
                                          "unset: the system's trust store.")
    kafka_ssl_cert_file: str | None = Field(None, description="Client certificate (PEM) for mutual TLS.")
    kafka_ssl_key_file: str | None = Field(None, description="Its private key (PEM).")
    mongo_tls: bool | None = Field(None, description="TLS to the platform's stores; unset: as the URI says.")
    mongo_tls_ca_file: str | None = Field(None, description="CA bundle of the stores' certificates.")
    mongo_tls_cert_key_file: str | None = Field(None, description="Client certificate and key (PEM), "
                                                "for x.509 authentication or mutual TLS.")
    mongo_username: str | None = Field(None, description="Store user; unset: as the URI says.")
    mongo_password: SecretStr | None = Field(None, description="Store password.")
    mongo_auth_source: str | None = Field(None, description="Database holding the user (authSource).")
    mongo_auth_mechanism: str | None = Field(None, description="e.g. SCRAM-SHA-256, MONGODB-X509.")

    @model_validator(mode="after")
    def _complete(self) -> ConnectionSecuritySettings:
        if self.kafka_security_protocol == "SASL_SSL" and not (self.kafka_sasl_username and self.kafka_sasl_password):
            raise ValueError("KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
        if bool(self.kafka_ssl_cert_file) != bool(self.kafka_ssl_key_file):
            raise ValueError("KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together")
        if bool(self.mongo_username) != bool(self.mongo_password):
            raise ValueError("MONGO_USERNAME and MONGO_PASSWORD go together")
        return self

    def kafka_security(self) -> BaseSecurity | None:
        """What FastStream's broker takes (``make_broker(..., security=...)``)."""
        if self.kafka_security_protocol == "PLAINTEXT":
            return None
        context = ssl.create_default_context(cafile=self.kafka_ssl_ca_file)
        if self.kafka_ssl_cert_file and self.kafka_ssl_key_file:
            context.load_cert_chain(self.kafka_ssl_cert_file, self.kafka_ssl_key_file)
        if self.kafka_security_protocol == "SSL":
            return BaseSecurity(ssl_context=context)
        assert self.kafka_sasl_username is not None and self.kafka_sasl_password is not None  # the validator's
        sasl = _SASL[self.kafka_sasl_mechanism]
        return sasl(self.kafka_sasl_username, self.kafka_sasl_password.get_secret_value(), ssl_context=context)

    def kafka_client_options(self) -> dict[str, Any]:
        """The same for aiokafka's own clients (admin, plain consumers): keyword arguments."""
        return parse_security(self.kafka_security())

    def mongo_client_options(self) -> dict[str, Any]:
        """Keyword arguments for ``AsyncMongoClient`` beside the URI."""
        options: dict[str, Any] = {}
        if self.mongo_tls is not None:
            options["tls"] = self.mongo_tls
        if self.mongo_tls_ca_file:
            options["tlsCAFile"] = self.mongo_tls_ca_file
        if self.mongo_tls_cert_key_file:
            options["tlsCertificateKeyFile"] = self.mongo_tls_cert_key_file
        if self.mongo_username and self.mongo_password:
            options["username"] = self.mongo_username
            options["password"] = self.mongo_password.get_secret_value()
        if self.mongo_auth_source:
            options["authSource"] = self.mongo_auth_source
        if self.mongo_auth_mechanism:
            options["authMechanism"] = self.mongo_auth_mechanism
        return options


class OperatorSettings(ConnectionSecuritySettings):
    """The operator tools' connection security (``just topics``, ``just dlq``): env prefix RESIDENCY_OPS_,
    e.g. ``RESIDENCY_OPS_KAFKA_SECURITY_PROTOCOL=SASL_SSL``."""

    model_config = SettingsConfigDict(env_prefix="RESIDENCY_OPS_", extra="ignore", frozen=True)
