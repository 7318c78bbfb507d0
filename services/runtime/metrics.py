"""Prometheus metrics every service has, and the listener that serves them on ``/metrics``.

What each service adds (filter verdicts, vLLM's scheduler, retention's records) lives in that
service's modules, on the same default registry. The bus's middleware counts messages by topic and
handler (``residency_bus_*``: services/runtime/bus_metrics.py). Labels are routes, topics, statuses
and categories: never IDs, keys or text, so their number stays bounded.

The listener is a thread (prometheus_client's WSGI server): a blocked event loop still answers, and
a scrape costs the loop nothing. ``METRICS_PORT`` unset: no listener.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics, start_http_server

log = logging.getLogger("residency.metrics")
disable_created_metrics()  # type: ignore[no-untyped-call]  # the *_created series double what a scrape carries and no dashboard reads them

HTTP_REQUESTS = Counter("residency_http_requests", "HTTP requests answered, by route and status.",
                        ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram("residency_http_request_duration_seconds",
                         "Time from a request's arrival to the end of its answer (the whole stream).",
                         ["service", "method", "route"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
CONSUMER_LAG = Gauge("residency_consumer_lag", "Records on a topic's assigned partitions not yet fetched by "
                     "this replica (high watermark minus position), summed over its partitions.",
                     ["service", "topic", "group"])

_servers: list[Any] = []


def start_metrics_server(port: int | None, host: str = "0.0.0.0") -> int | None:
    """Serves ``/metrics`` on ``host:port``; returns the bound port (``port`` 0: any free one)."""
    if port is None:
        return None
    server, _thread = start_http_server(port, addr=host)
    _servers.append(server)
    bound: int = server.server_port
    log.info("metrics on %s:%d/metrics", host, bound)
    return bound


async def update_consumer_lag(service: str, subscribers: Iterable[Any]) -> list[str]:
    """Sets the lag gauge of each group subscriber's topics once; returns the errors' types of the
    subscribers not measured (a rebalance in progress: the next round reads them)."""
    failed: list[str] = []
    for subscriber in subscribers:
        consumer = getattr(subscriber, "consumer", None)
        if consumer is None:
            continue
        try:
            lag_by_topic = await _lag_of(consumer)
        except Exception as error:  # noqa: BLE001 - any failure of one consumer leaves the others measured
            failed.append(type(error).__name__)
            continue
        for topic, lag in lag_by_topic.items():
            CONSUMER_LAG.labels(service, topic, getattr(consumer, "_group_id", None) or "").set(lag)
    return failed


async def _lag_of(consumer: Any) -> dict[str, int]:
    lag_by_topic: dict[str, int] = {}
    for partition in consumer.assignment():
        highwater = consumer.highwater(partition)
        if highwater is None:  # no fetch answered yet
            continue
        position = await consumer.position(partition)
        lag_by_topic[partition.topic] = lag_by_topic.get(partition.topic, 0) + max(highwater - position, 0)
    return lag_by_topic


async def watch_consumer_lag(service: str, subscribers: list[Any], interval_s: float = 5.0) -> None:
    """Keeps the lag gauge current while the service runs."""
    failures = 0
    while True:
        if errors := await update_consumer_lag(service, subscribers):
            failures += 1
            if failures in (1, 100):
                log.warning("consumer lag not measured (%s), %d time(s)", ", ".join(errors), failures)
        await asyncio.sleep(interval_s)
