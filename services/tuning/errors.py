"""Tuning exceptions.

    Exception
    └── TuningError
        ├── ContentGone        a file's or adapter's data key was destroyed (or never made): unreadable for ever
        └── TrainingFailed     the trainer could not produce an adapter (its message is safe to show)
"""

from __future__ import annotations


class TuningError(Exception):
    pass


class ContentGone(TuningError):
    pass


class TrainingFailed(TuningError):
    pass
