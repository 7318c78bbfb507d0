"""Filter exceptions (tree in services/filter/__init__.py)."""


class FilterError(Exception):
    """Base of the filter's own errors."""


class DetectorFailed(FilterError):
    """A detector could not give a verdict."""
