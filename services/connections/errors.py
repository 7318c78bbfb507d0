"""Data-connection exceptions (tree in services/connections/__init__.py)."""

from __future__ import annotations


class ConnectionRefused(Exception):
    """The caller may not use this connection or endpoint. ``code`` is stable; the message never
    quotes a credential."""

    code = "data_source_refused"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class EndpointRefused(ConnectionRefused):
    """Unparseable endpoint, an option outside the allow-list, or an address the policy refuses."""


class DatabaseRefused(ConnectionRefused):
    """A platform (``residency_*``) or system database or collection."""
