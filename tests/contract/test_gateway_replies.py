from contracts import gateway_replies
from contracts.common import ApiError, Citation
from contracts.gateway_replies import (
    CompletionReady,
    EmbeddingsReady,
    FileContentChunk,
    GroundingFound,
    PromptAnnotation,
    PromptScreened,
    ReplyChoice,
    RequestFailed,
    StoredCompletionsFound,
)
from contracts.registry import GATEWAY_REPLY
from tests.contract.suite import ENVELOPE, ContractSuite


class TestGatewayReplies(ContractSuite):
    module = gateway_replies
    examples = [
        GroundingFound(**ENVELOPE, citations=[Citation(content="text", title="T", chunk_id="64f0")], intent="q"),
        PromptScreened(**ENVELOPE, prompt_filter_results=[PromptAnnotation(
            content_filter_results={"hate": {"filtered": False, "severity": "safe"}})]),
        CompletionReady(**ENVELOPE, sequence=0, final=True, model="m",
                        choices=[ReplyChoice(index=0, text="Hi", finish_reason="stop")]),
        EmbeddingsReady(**ENVELOPE, model="all-minilm-l6-v2", embeddings=[[0.1, -0.2], [0.3, 0.4]],
                        prompt_tokens=4),
        StoredCompletionsFound(**ENVELOPE, items=['{"id": "chatcmpl-1"}'], has_more=True),
        RequestFailed(**ENVELOPE, error=ApiError(status=400, code="content_filter", param="prompt",
                                                 message="filtered")),
        FileContentChunk(**ENVELOPE, file_id="file-0123456789abcdef01234567", sequence=0, data="e30K", final=True),
    ]

    def test_the_union_picks_the_model_by_kind(self) -> None:
        for example in self.examples:
            assert GATEWAY_REPLY.validate_json(example.model_dump_json()) == example
