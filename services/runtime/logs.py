"""Logging set-up: one line per event with IDs only, never prompt or completion text."""

from __future__ import annotations

import logging
import sys


def configure_logging(service: str, level: str) -> logging.Logger:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("residency").setLevel(level)
    # aiokafka reports every coordinator hiccup at INFO or higher; warnings are enough.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    return logging.getLogger(f"residency.{service}")
