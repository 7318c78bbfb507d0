"""Filter: screens every prompt before inference and every completion before the caller sees it.

It keeps nothing: no prompt text in logs, files or caches keyed by content.

Exceptions::

    Exception
    └── FilterError
        ├── DetectorFailed      a detector errored; the resource's policy says fail open or closed
        └── ClassifierMissing   the trained artefact is missing at start (`just filter-train`)
"""
