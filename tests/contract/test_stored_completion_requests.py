from contracts import stored_completion_requests
from contracts.stored_completion_requests import StoredCompletionsRequested
from tests.contract.suite import ENVELOPE, ContractSuite


class TestStoredCompletionRequests(ContractSuite):
    module = stored_completion_requests
    examples = [StoredCompletionsRequested(**ENVELOPE, operation="list", model="smollm2-135m-instruct",
                                           metadata={"app": "support"}, after="chatcmpl-1", limit=5, order="desc")]
