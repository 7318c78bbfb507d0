from contracts import generation_requests
from contracts.common import ChatMessage, SamplingParams
from contracts.generation_requests import GenerateCompletion
from tests.contract.suite import ENVELOPE, ContractSuite


class TestGenerationRequests(ContractSuite):
    module = generation_requests
    examples = [GenerateCompletion(
        **ENVELOPE, model="smollm2-135m-instruct", messages=[ChatMessage(role="user", content="Hi")],
        sampling=SamplingParams(seed=7, logprobs=True, top_logprobs=2), adapter="ft-contoso-1")]
