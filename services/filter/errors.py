"""Filter exceptions (tree in services/filter/__init__.py)."""


class FilterError(Exception):
    """Base of the filter's own errors."""


class DetectorFailed(FilterError):
    """A detector could not give a verdict; the policy says fail open or closed."""


class ClassifierMissing(FilterError):
    """The trained artefact is not there (build it with `just filter-train`)."""
