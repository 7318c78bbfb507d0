"""Publishing to the gateway replies topic: the routing header travels with every reply."""

from __future__ import annotations

import asyncio
from typing import Any

from faststream.kafka import KafkaBroker

from contracts import gateway_replies
from contracts.base import Envelope
from services.runtime.bus import TopicPublisher


class ReplyPublisher:
    """Sends a reply to the replica named in its ``reply_to`` (a gateway's by default; retrieval's
    query embeddings go to ``{region}.retrieval.query-embeddings.v1``).

    The replica ID is also set as the ``residency-reply-to`` header so that the other replicas,
    which read the same partitions, drop the message without parsing it.
    """

    def __init__(self, broker: KafkaBroker, region: str, template: str = gateway_replies.TOPIC) -> None:
        self._topic = TopicPublisher(broker, template, region, schema=gateway_replies.GatewayReply,
                                     description="Replies for the replica named in residency-reply-to.")

    async def publish(self, reply: Envelope) -> None:
        await self._topic.publish(reply, headers={gateway_replies.REPLY_TO_HEADER: reply.reply_to})


async def wait_until_positioned(subscriber: Any, timeout_s: float = 30.0) -> None:
    """Fix a group-less reply consumer's start offsets before asking anything, so no early reply
    is skipped (it starts at the latest offset)."""
    async with asyncio.timeout(timeout_s):
        consumer = subscriber.consumer
        while not consumer.assignment():
            await asyncio.sleep(0.05)
        for partition in consumer.assignment():
            await consumer.position(partition)
