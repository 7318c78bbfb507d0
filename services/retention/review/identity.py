"""Who is calling the review API: a registered workstation and an authenticated reviewer.

The workstation is the client certificate of the mutual-TLS connection (checked against the CA
by TLS, then against the registered fingerprints here, so a certificate can be withdrawn without
a CRL). The person is a bearer token, stored only as its SHA-256, with roles and the location
recorded for them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from services.retention.settings import ReviewerAccount, Workstation

# EU member states plus Iceland, Liechtenstein and Norway (ISO 3166-1 alpha-2).
EEA_COUNTRIES = frozenset({
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
})


@dataclass(frozen=True)
class Reviewer:
    reviewer_id: str
    roles: frozenset[str]
    location: str

    @property
    def in_eea(self) -> bool:
        return self.location in EEA_COUNTRIES


@dataclass(frozen=True)
class Caller:
    """A request's identity; either part may be missing, and access decides what that means."""

    workstation: str | None
    reviewer: Reviewer | None
    certificate_sha256: str | None = None

    @property
    def actor(self) -> str | None:
        return self.reviewer.reviewer_id if self.reviewer else None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ReviewDirectory:
    def __init__(self, workstations: Iterable[Workstation], reviewers: Iterable[ReviewerAccount]) -> None:
        self._workstations = {w.certificate_sha256: w.id for w in workstations}
        self._reviewers = list(reviewers)

    def identify(self, certificate_der: bytes | None, authorization: str | None) -> Caller:
        fingerprint = sha256_hex(certificate_der) if certificate_der else None
        workstation = self._workstations.get(fingerprint) if fingerprint else None
        return Caller(workstation=workstation, reviewer=self._reviewer(authorization),
                      certificate_sha256=fingerprint)

    def _reviewer(self, authorization: str | None) -> Reviewer | None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        digest = sha256_hex(token.strip().encode())
        for account in self._reviewers:
            if hmac.compare_digest(digest, account.token_sha256):
                return Reviewer(account.id, frozenset(account.roles), account.location)
        return None
