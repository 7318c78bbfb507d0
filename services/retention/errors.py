"""Retention exceptions (tree in services/retention/__init__.py)."""


class RetentionError(Exception):
    """Base of the retention service's own errors."""


class WrongRegion(RetentionError):
    """A record names another region than the store it reached; it is dead-lettered, never stored."""


class RecordRefused(RetentionError):
    """The store refused one record of a batch for what it holds (not an outage); it is dead-lettered alone."""

    def __init__(self, code: int) -> None:
        super().__init__(f"the store refused the record (error code {code})")
        self.code = code


class UnreadableRecord(RetentionError):
    """Sealed content failed authentication or its key is gone: it is reported, never served."""


class KeyWindowClosed(RetentionError):
    """A data key was asked for a day whose retention window has already ended."""


class AuditUnavailable(RetentionError):
    """The audit log did not take an entry; an access that cannot be recorded is refused."""


class AccessRefused(RetentionError):
    """A review or customer request was refused; ``reason`` is a stable code (audited, returned)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
