"""Tuning exceptions (ContentGone, of the sealed store, is services.tuning_catalog.errors.ContentGone).

    Exception
    └── TuningError
        ├── TrainingFailed     the trainer could not produce an adapter (its message is safe to show)
        └── WrongRegion        a message of another region reached this region's worker: dead-lettered
"""

from __future__ import annotations


class TuningError(Exception):
    pass


class TrainingFailed(TuningError):
    pass


class WrongRegion(TuningError):
    pass


def require_region(message_region: str, own_region: str) -> None:
    """Files, jobs and adapters stay in their region: this worker handles only its own region's."""
    if message_region != own_region:
        raise WrongRegion(f"a message of region {message_region!r} reached the {own_region!r} tuning worker")
