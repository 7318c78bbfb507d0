"""The one way a bus service starts: settings read once, logs configured, the app run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

import uvloop
from faststream import FastStream

from services.runtime.logs import configure_logging
from services.runtime.settings import ServiceSettings

Settings = TypeVar("Settings", bound=ServiceSettings)


def run_service(service: str, settings_class: type[Settings], create_app: Callable[[Settings], FastStream]) -> None:
    settings = settings_class()
    configure_logging(service, settings.log_level, fmt=settings.log_format)
    # uvloop: the bus services spend much of their time in the event loop and socket writes
    # (py-spy, README "Performance"); the gateway gets it from uvicorn.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(create_app(settings).run())
