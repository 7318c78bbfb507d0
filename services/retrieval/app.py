"""Retrieval's subscribers: grounding requests of its region (one group), and the embeddings of its
own search queries (every replica, no group; each keeps the answers addressed to it).

Grounding requests go through an in-flight window: up to ``max_in_flight`` are served at once,
so one slow or silent store holds its own request (until the deadline), not the region's "on your
data"; offsets are committed only up to the first unfinished request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from faststream import FastStream
from faststream.middlewares import AckPolicy
from pydantic import TypeAdapter

from contracts import grounding_requests_v2, query_embeddings
from contracts.grounding_requests_v2 import GroundingRequested
from services.retrieval import handlers
from services.retrieval.bootstrap import bootstrap
from services.retrieval.settings import RetrievalSettings
from services.runtime.bus import RawMessage
from services.runtime.dead_letters import dead_letter
from services.runtime.inflight import InFlightWindow
from services.runtime.replies import wait_until_positioned
from services.runtime.reply_inbox import InMemoryReplyInbox
from services.runtime.service_app import ServiceWiring

log = logging.getLogger("residency.retrieval")
QUERY_EMBEDDING: TypeAdapter[Any] = TypeAdapter(query_embeddings.QueryEmbeddingReply)
INDEX_SWEEP_S = 60.0


def create_app(settings: RetrievalSettings, **overrides: Any) -> FastStream:
    inbox = InMemoryReplyInbox()
    broker, ports = bootstrap(settings, inbox=inbox, **overrides)
    wiring = ServiceWiring("retrieval", settings, broker)

    async def dead_letter_request(record: Any, error: BaseException) -> None:
        await dead_letter(broker, record, service="retrieval", error=error)

    window = InFlightWindow(settings.max_in_flight, dead_letter=dead_letter_request)

    @wiring.group_subscriber(grounding_requests_v2.TOPIC, "retrieval", ack_policy=AckPolicy.MANUAL, quiet=True)
    async def on_grounding_request(request: GroundingRequested, message: RawMessage) -> None:
        await window.submit(message, handlers.ground_request(request, ports), key=request.request_id)

    embeddings = wiring.fanout_subscriber(query_embeddings.TOPIC, quiet=True)

    @embeddings
    async def on_query_embedding(message: RawMessage) -> None:
        # Filter on the header first: other replicas' answers are skipped without parsing.
        if message.headers.get(query_embeddings.REPLY_TO_HEADER) == settings.replica_id:
            inbox.deliver(QUERY_EMBEDDING.validate_json(message.body))

    sweeper: list[asyncio.Task[None]] = []

    async def start_sweeping() -> None:
        await wait_until_positioned(embeddings)
        sweeper.append(asyncio.create_task(sweep_indexes()))

    async def sweep_indexes() -> None:
        """Drop indexes whose connection was deleted or registered anew (their key names the old one)."""
        while ports.indexes is not None:
            await asyncio.sleep(INDEX_SWEEP_S)
            for key in ports.indexes.index_keys():
                with contextlib.suppress(Exception):  # a store hiccup: try again next round
                    found = await ports.connections.get(key.resource_id, key.connection)
                    if found is None or found.created_at.timestamp() != key.registered_at:
                        ports.indexes.drop(key.resource_id, key.connection)

    async def drain() -> None:  # SIGTERM: the broker still runs, so finished requests publish and commit
        window.close()
        await window.drain(settings.shutdown_grace_s)

    async def stop() -> None:
        for task in sweeper:
            task.cancel()
        close = getattr(ports.documents, "close", None)
        if close is not None:
            await close()

    return wiring.app(after_startup=[start_sweeping], on_shutdown=[drain], after_shutdown=[stop])
