from contracts import prompt_submissions
from contracts.common import ChatMessage, SamplingParams
from contracts.prompt_submissions import PromptSubmitted
from tests.contract.suite import ENVELOPE, ContractSuite


class TestPromptSubmissions(ContractSuite):
    module = prompt_submissions
    examples = [PromptSubmitted(
        **ENVELOPE, model="smollm2-135m-instruct",
        messages=[ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="Hi")],
        sampling=SamplingParams(temperature=0.2, n=2, stop=["\n"]), stream=True, documents=["doc text"])]
