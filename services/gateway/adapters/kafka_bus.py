"""The gateway's publishers: one per request-path topic of its region."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from contracts import (
    embedding_requests,
    generation_cancellations,
    grounding_requests_v2,
    interaction_records,
    prompt_submissions,
    stored_completion_requests,
)
from contracts.embedding_requests import EmbedTexts
from contracts.generation_cancellations import CancelGeneration
from contracts.grounding_requests_v2 import GroundingRequested
from contracts.interaction_records import InteractionCompleted
from contracts.prompt_submissions import PromptSubmitted
from contracts.stored_completion_requests import StoredCompletionsRequested
from services.runtime.bus import TopicPublisher


class KafkaRequestBus:
    def __init__(self, broker: KafkaBroker, region: str) -> None:
        self._prompts = TopicPublisher(broker, prompt_submissions.TOPIC, region, schema=PromptSubmitted)
        self._grounding = TopicPublisher(broker, grounding_requests_v2.TOPIC, region, schema=GroundingRequested)
        self._embeddings = TopicPublisher(broker, embedding_requests.TOPIC, region, schema=EmbedTexts)
        self._cancellations = TopicPublisher(broker, generation_cancellations.TOPIC, region,
                                             schema=CancelGeneration)
        self._interactions = TopicPublisher(broker, interaction_records.TOPIC, region,
                                            schema=InteractionCompleted)
        self._stored = TopicPublisher(broker, stored_completion_requests.TOPIC, region,
                                      schema=StoredCompletionsRequested)

    async def submit_prompt(self, submission: PromptSubmitted) -> None:
        await self._prompts.publish(submission)

    async def request_grounding(self, request: GroundingRequested) -> None:
        await self._grounding.publish(request)

    async def request_embeddings(self, request: EmbedTexts) -> None:
        await self._embeddings.publish(request)

    async def cancel(self, command: CancelGeneration) -> None:
        await self._cancellations.publish(command)

    async def record_interaction(self, record: InteractionCompleted) -> None:
        await self._interactions.publish(record)

    async def ask_stored_completions(self, request: StoredCompletionsRequested) -> None:
        await self._stored.publish(request)
