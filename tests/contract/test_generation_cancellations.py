from contracts import generation_cancellations
from contracts.generation_cancellations import CancelGeneration
from tests.contract.suite import ENVELOPE, ContractSuite


class TestGenerationCancellations(ContractSuite):
    module = generation_cancellations
    examples = [CancelGeneration(**ENVELOPE, reason="client_disconnected")]
