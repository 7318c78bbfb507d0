"""Exceptions shared by every service (the tree is drawn in services/runtime/__init__.py)."""


class RegionMismatch(RuntimeError):
    """A message names another region than the topic it is about to be published to."""


class DependencyUnavailable(ConnectionError):
    """A store, engine or customer database cannot be reached; the message is retried, not dead-lettered."""
