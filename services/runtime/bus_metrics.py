"""The bus's Prometheus metrics (``residency_bus_*``), each topic's label children bound once.

Names, label sets and help texts are those FastStream's ``KafkaPrometheusMiddleware`` registered
(``metrics_prefix="residency_bus"``), which the Grafana dashboard, the README and the stack's tests
read. What changed is the cost: that middleware called prometheus_client's ``labels()`` (argument
checks, a tuple, a lock, a dict look-up) seven times per message, ~4 % of the filter's CPU under
load. Here a topic's children are looked up once and kept in dicts keyed by topic (and by status or
exception type), so a message costs a dict look-up and the increments themselves.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PREFIX = "residency_bus"
BROKER = "kafka"
_CONSUMED = ["app_name", "broker", "handler"]
_PUBLISHED = ["app_name", "broker", "destination"]
SIZE_BUCKETS = (*(2.0 ** e for e in range(4, 25, 2)), float("inf"))  # FastStream's: 16 B to 16 MiB

RECEIVED = Counter(f"{PREFIX}_received_messages_total",
                   "Count of received messages by broker and handler", _CONSUMED)
RECEIVED_SIZE = Histogram(f"{PREFIX}_received_messages_size_bytes",
                          "Histogram of received messages size in bytes by broker and handler", _CONSUMED,
                          buckets=SIZE_BUCKETS)
IN_PROCESS = Gauge(f"{PREFIX}_received_messages_in_process",
                   "Gauge of received messages in process by broker and handler", _CONSUMED)
PROCESSED = Counter(f"{PREFIX}_received_processed_messages_total",
                    "Count of received processed messages by broker, handler and status", [*_CONSUMED, "status"])
PROCESSED_DURATION = Histogram(
    f"{PREFIX}_received_processed_messages_duration_seconds",
    "Histogram of received processed messages duration in seconds by broker and handler", _CONSUMED)
PROCESSED_EXCEPTIONS = Counter(
    f"{PREFIX}_received_processed_messages_exceptions_total",
    "Count of received processed messages exceptions by broker, handler and exception_type",
    [*_CONSUMED, "exception_type"])
PUBLISHED = Counter(f"{PREFIX}_published_messages_total",
                    "Count of published messages by destination and status", [*_PUBLISHED, "status"])
PUBLISHED_DURATION = Histogram(f"{PREFIX}_published_messages_duration_seconds",
                               "Histogram of published messages duration in seconds by broker and destination",
                               _PUBLISHED)
PUBLISHED_EXCEPTIONS = Counter(
    f"{PREFIX}_published_messages_exceptions_total",
    "Count of published messages exceptions by broker, destination and exception_type",
    [*_PUBLISHED, "exception_type"])


def _bound(children: dict[str, Counter], metric: Counter, labels: tuple[str, ...], value: str) -> Counter:
    """``metric``'s child for ``labels`` plus ``value``, bound on first use and kept in ``children``."""
    child = children.get(value)
    if child is None:
        child = children[value] = metric.labels(*labels, value)
    return child


class Consumed:
    """One topic's consume children; ``processed`` and ``exception`` bind a status or type on first use."""

    __slots__ = ("_exceptions", "_labels", "_processed", "duration", "in_process", "received", "size")

    def __init__(self, app_name: str, topic: str) -> None:
        self._labels = (app_name, BROKER, topic)
        self.received = RECEIVED.labels(*self._labels)
        self.size = RECEIVED_SIZE.labels(*self._labels)
        self.in_process = IN_PROCESS.labels(*self._labels)
        self.duration = PROCESSED_DURATION.labels(*self._labels)
        self._processed: dict[str, Counter] = {}
        self._exceptions: dict[str, Counter] = {}

    def processed(self, status: str) -> Counter:
        return _bound(self._processed, PROCESSED, self._labels, status)

    def exception(self, exception_type: str) -> Counter:
        return _bound(self._exceptions, PROCESSED_EXCEPTIONS, self._labels, exception_type)


class Published:
    """One destination's publish children; ``published`` and ``exception`` bind on first use."""

    __slots__ = ("_exceptions", "_labels", "_published", "duration")

    def __init__(self, app_name: str, topic: str) -> None:
        self._labels = (app_name, BROKER, topic)
        self.duration = PUBLISHED_DURATION.labels(*self._labels)
        self._published: dict[str, Counter] = {}
        self._exceptions: dict[str, Counter] = {}

    def published(self, status: str) -> Counter:
        return _bound(self._published, PUBLISHED, self._labels, status)

    def exception(self, exception_type: str) -> Counter:
        return _bound(self._exceptions, PUBLISHED_EXCEPTIONS, self._labels, exception_type)


class BusMetrics:
    """The children of one service (``app_name``), per topic. Topics and statuses are few and fixed,
    exception types few: the dicts stay small."""

    __slots__ = ("_consumed", "_published", "app_name")

    def __init__(self, app_name: str) -> None:
        self.app_name = app_name
        self._consumed: dict[str, Consumed] = {}
        self._published: dict[str, Published] = {}

    def consumed(self, topic: str) -> Consumed:
        children = self._consumed.get(topic)
        if children is None:
            children = self._consumed[topic] = Consumed(self.app_name, topic)
        return children

    def published(self, topic: str) -> Published:
        children = self._published.get(topic)
        if children is None:
            children = self._published[topic] = Published(self.app_name, topic)
        return children
