from contracts import tuning_model_deletions
from contracts.tuning_model_deletions import DeleteFineTunedModel
from tests.contract.suite import ENVELOPE, ContractSuite


class TestTuningModelDeletions(ContractSuite):
    module = tuning_model_deletions
    examples = [DeleteFineTunedModel(**{**ENVELOPE, "deployment": "models"},
                                     model="smollm2-135m-instruct.ft-0123456789abcdef01234567")]
