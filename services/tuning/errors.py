"""Tuning exceptions (ContentGone, of the sealed store, is services.tuning_catalog.errors.ContentGone).

    Exception
    └── TuningError
        └── TrainingFailed     the trainer could not produce an adapter (its message is safe to show)
"""

from __future__ import annotations


class TuningError(Exception):
    pass


class TrainingFailed(TuningError):
    pass
