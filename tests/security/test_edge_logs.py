"""Item: unknown field names capped and escaped in the logs. A caller cannot forge a log line
with a newline in a field name, flood the log with thousands of names, or pass text through it."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.security.edge_support import HELLO, chat_url, client, echo_resource

pytestmark = pytest.mark.stack


def test_ignored_field_names_are_capped_and_escaped_in_the_gateway_log(stack):
    _, key = echo_resource(stack, "edge-logs")
    marker = uuid.uuid4().hex
    forged = f"a\n2026-01-01 00:00:00 gateway ERROR residency.gateway: forged-{marker}"
    flood = {f"b{marker}-{i:04d}-" + "x" * 200: i for i in range(2000)}
    with client(stack, key) as gateway:
        response = gateway.post(chat_url(), json={"messages": HELLO, forged: 1, **flood})
    assert response.status_code == 200, response.text
    log_file = stack.logs / "gateway-1.log"
    deadline = time.monotonic() + 5
    while marker[:8] not in log_file.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = [line for line in log_file.read_text().splitlines() if marker[:8] in line]
    assert len(lines) == 1, lines[:3]
    [line] = lines
    assert "ignored 2001 request field(s)" in line and "and 1991 more" in line
    assert "\\n2026-01-01" in line, "the newline is escaped, not written"
    assert not any(line.startswith("2026-01-01 00:00:00 gateway ERROR") for line in log_file.read_text().splitlines())
    assert len(line) < 1200 and "x" * 41 not in line
