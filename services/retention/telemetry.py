"""Retention's spans and metrics: records by outcome, flags by rule.

A batch has one FastStream span linked to every record's trace; each record's preparation gets a
span in the trace of the request it records (its ``traceparent`` header), so a request's trace runs
on into retention.
"""

from __future__ import annotations

from opentelemetry import trace
from prometheus_client import Counter

tracer = trace.get_tracer("residency.retention")

RECORDS = Counter("residency_retention_records", "Interaction records by outcome: stored (new), duplicate "
                  "(delivered again, stored before) or refused (by the store; dead-lettered).", ["outcome"])
FLAGS = Counter("residency_retention_flags", "Flags raised, by rule.", ["rule"])


def count_stored(total: int, inserted: int, refused: int) -> None:
    RECORDS.labels("stored").inc(inserted)
    RECORDS.labels("duplicate").inc(max(total - inserted - refused, 0))
    RECORDS.labels("refused").inc(refused)
