"""Publishing to the gateway replies topic: the routing header travels with every reply."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from contracts import gateway_replies
from contracts.base import Envelope
from services.runtime.bus import TopicPublisher


class ReplyPublisher:
    """Sends a reply to the gateway replica named in its ``reply_to``.

    The replica ID is also set as the ``residency-reply-to`` header so that the other replicas,
    which read the same partitions, drop the message without parsing it.
    """

    def __init__(self, broker: KafkaBroker, region: str) -> None:
        self._topic = TopicPublisher(broker, gateway_replies.TOPIC, region,
                                     schema=gateway_replies.GatewayReply,
                                     description="Replies for the gateway replica named in residency-reply-to.")

    async def publish(self, reply: Envelope) -> None:
        await self._topic.publish(reply, headers={gateway_replies.REPLY_TO_HEADER: reply.reply_to})
