"""Makes what the local broker's SASL_SSL listener needs: a throw-away CA, a certificate for
127.0.0.1 (PEM, as Kafka's ``ssl.keystore.type=PEM`` reads it), and a PLAIN user with a random
password. deploy/local/infra.sh runs it before each start; nothing here is ever committed.

    python deploy/local/kafka/sasl_ssl.py <folder> <port>

writes <folder>/ca.pem, <folder>/broker.pem (key and certificate), <folder>/jaas.properties (the
listener's lines for server.properties) and <folder>/client.json (what a client needs: bootstrap,
CA file, user, password).
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

USER = "residency"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make(folder: Path, port: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = (x509.CertificateBuilder().subject_name(_name("residency-local-kafka-ca")).issuer_name(
        _name("residency-local-kafka-ca")).public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True).sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    broker = folder / "broker.pem"
    broker.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
                       + cert.public_bytes(pem) + ca.public_bytes(pem))
    broker.chmod(0o600)
    password = secrets.token_hex(16)
    jaas = (f'org.apache.kafka.common.security.plain.PlainLoginModule required username="{USER}" '
            f'password="{password}" user_{USER}="{password}";')
    (folder / "listener.properties").write_text(
        "listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN\n"
        f"listener.name.sasl_ssl.plain.sasl.jaas.config={jaas}\n"
        "listener.name.sasl_ssl.ssl.keystore.type=PEM\n"
        f"listener.name.sasl_ssl.ssl.keystore.location={broker}\n")
    client = folder / "client.json"
    client.write_text(json.dumps({"bootstrap": f"127.0.0.1:{port}", "ca_file": str(folder / "ca.pem"),
                                  "mechanism": "PLAIN", "username": USER, "password": password}))
    client.chmod(0o600)


if __name__ == "__main__":
    make(Path(sys.argv[1]), int(sys.argv[2]))
