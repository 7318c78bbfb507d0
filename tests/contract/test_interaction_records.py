from datetime import UTC, datetime

from contracts import interaction_records
from contracts.common import ChatMessage, Usage
from contracts.interaction_records import InteractionCompleted, StoredCompletion
from tests.contract.suite import ENVELOPE, ContractSuite


class TestInteractionRecords(ContractSuite):
    module = interaction_records
    examples = [InteractionCompleted(
        **ENVELOPE, completed_at=datetime(2026, 11, 26, 6, 1, tzinfo=UTC), status=200, end_user="u-7",
        content_logging=True, messages=[ChatMessage(role="user", content="Hi")], completions=["Hello"],
        finish_reasons=["stop"], prompt_filter_results=[{}], completion_filter_results=[{}],
        citation_ids=["64f0"], usage=Usage(prompt_tokens=1, completion_tokens=1, total_tokens=2),
        stored=StoredCompletion(completion_id="chatcmpl-1", model="smollm2-135m-instruct", metadata={"app": "x"},
                                messages=[ChatMessage(role="user", content="Hi")], response='{"id": "chatcmpl-1"}'))]
