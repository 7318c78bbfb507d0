from contracts import tuning_jobs
from contracts.tuning_jobs import Hyperparameters, TrainFineTuningJob
from tests.contract.suite import ENVELOPE, ContractSuite


class TestTuningJobs(ContractSuite):
    module = tuning_jobs
    examples = [TrainFineTuningJob(
        **{**ENVELOPE, "deployment": "files"}, job_id="ftjob-0123456789abcdef01234567", model="smollm2-135m-instruct",
        training_file="file-0123456789abcdef01234567", validation_file=None, seed=7,
        hyperparameters=Hyperparameters(n_epochs=3, batch_size=1, learning_rate_multiplier=1.0),
        fine_tuned_model="smollm2-135m-instruct.ft-0123456789abcdef01234567")]
