"""Logging set-up: one JSON object per line, with IDs only, never prompt or completion text.

Each line carries the time, service, level, logger, message and, when known, the request ID (bound
by the gateway per HTTP request and by the bus per consumed message, from its
``residency-request-id`` header) and the current span's trace and span IDs, so a line leads to its
trace. A traceback is one field (``exc``): a line stays a line. ``LOG_FORMAT=text`` keeps the old
human-readable lines for a terminal.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

from opentelemetry import trace

_request_id: ContextVar[str | None] = ContextVar("residency_request_id", default=None)


def bind_request_id(request_id: str | None) -> None:
    """The request the current task works for (a context variable: tasks it starts inherit it)."""
    _request_id.set(request_id)


def current_request_id() -> str | None:
    return _request_id.get()


class JsonLines(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "service": self.service, "level": record.levelname, "logger": record.name,
            "message": record.getMessage(),
        }
        if request_id := _request_id.get():
            line["request_id"] = request_id
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            line["trace_id"] = format(span.trace_id, "032x")
            line["span_id"] = format(span.span_id, "016x")
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(service: str, level: str, *, fmt: str = "json") -> logging.Logger:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "text":
        handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(JsonLines(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("residency").setLevel(level)
    # aiokafka reports every coordinator hiccup at INFO or higher; warnings are enough.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    return logging.getLogger(f"residency.{service}")
