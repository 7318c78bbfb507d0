from contracts import generation_events
from contracts.common import ApiError, Usage
from contracts.generation_events import CompletionGenerated, GeneratedChoice
from tests.contract.suite import ENVELOPE, ContractSuite


class TestGenerationEvents(ContractSuite):
    module = generation_events
    examples = [CompletionGenerated(
        **ENVELOPE, sequence=3, final=True, model="smollm2-135m-instruct",
        choices=[GeneratedChoice(index=0, text="Hello", finish_reason="stop")],
        usage=Usage(prompt_tokens=5, completion_tokens=1, total_tokens=6))]

    def test_an_error_event_round_trips(self) -> None:
        event = CompletionGenerated(**ENVELOPE, sequence=0, final=True, model="m",
                                    error=ApiError(status=400, message="too long", param="messages"))
        assert CompletionGenerated.model_validate_json(event.model_dump_json()) == event
