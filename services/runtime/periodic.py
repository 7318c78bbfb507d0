"""A background round repeated until cancelled (the retention sweep, tuning's orphan sweep)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any


async def repeat(round_: Callable[[], Awaitable[Any]], interval_s: float, *, log: logging.Logger,
                 what: str) -> None:
    """Runs ``round_`` every ``interval_s`` until cancelled; a failed round is logged (its exception's
    type only: never data) and tried again next time."""
    while True:
        try:
            await round_()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - one failed round must not end the loop
            log.error("%s failed: %s", what, type(error).__name__)
        await asyncio.sleep(interval_s)
