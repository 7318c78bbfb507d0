"""Retention exceptions (tree in services/retention/__init__.py)."""


class RetentionError(Exception):
    """Base of the retention service's own errors."""


class WrongRegion(RetentionError):
    """A record names another region than the store it reached; it is dead-lettered, never stored."""


class UnreadableRecord(RetentionError):
    """A sealed record failed authentication: it is reported, never served."""
