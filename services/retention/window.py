"""The retention window: counted in whole UTC days, because data keys are per day.

A record completed on UTC day D with a retention of R days lives until the start of day D + R,
when the key of day D is destroyed. So no record outlives its retention: each is kept between
R - 1 and R days, never longer.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

MAX_RETENTION_DAYS = 30


def day_start(moment: datetime) -> datetime:
    """Midnight UTC of the day ``moment`` falls on."""
    return datetime.combine(moment.astimezone(UTC).date(), time(0), tzinfo=UTC)


def day_name(start: datetime) -> str:
    return start.date().isoformat()


def window_end(completed_at: datetime, retention_days: int) -> datetime:
    """When a record completed at ``completed_at`` expires, and its day's key is destroyed."""
    return day_start(completed_at) + timedelta(days=retention_days)


def oldest_kept_day(now: datetime, retention_days: int) -> datetime:
    """Start of the oldest UTC day whose records are still within a ``retention_days`` window."""
    return day_start(now) - timedelta(days=retention_days - 1)
