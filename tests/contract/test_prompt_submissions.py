from contracts import prompt_submissions
from contracts.common import ChatMessage, SamplingParams, ToolCall, ToolDefinition
from contracts.prompt_submissions import PromptSubmitted
from tests.contract.suite import ENVELOPE, ContractSuite


class TestPromptSubmissions(ContractSuite):
    module = prompt_submissions
    examples = [PromptSubmitted(
        **ENVELOPE, model="smollm2-135m-instruct",
        messages=[ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="Hi"),
                  ChatMessage(role="assistant", content="",
                              tool_calls=[ToolCall(id="call_1", name="f", arguments="{}")]),
                  ChatMessage(role="tool", content="42", tool_call_id="call_1")],
        sampling=SamplingParams(temperature=0.2, n=2, stop=["\n"], response_format="json_schema",
                                json_schema='{"type": "object"}'),
        stream=True, documents=["doc text"],
        tools=[ToolDefinition(name="f", description="Answers.", parameters='{"type": "object"}')])]
