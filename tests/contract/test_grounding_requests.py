from contracts import grounding_requests
from contracts.common import ChatMessage, SamplingParams
from contracts.grounding_requests import GroundingRequested, MongoDataSource
from tests.contract.suite import ENVELOPE, ContractSuite


class TestGroundingRequests(ContractSuite):
    module = grounding_requests
    examples = [GroundingRequested(
        **ENVELOPE, model="smollm2-135m-instruct", messages=[ChatMessage(role="user", content="Who won?")],
        sampling=SamplingParams(max_tokens=64), end_user="u-7",
        data_source=MongoDataSource(endpoint="mongodb://10.0.0.5:27017/", database_name="kb",
                                    collection_name="articles", username="reader", password="s3cret",
                                    title_field="title", top_n_documents=3))]

    def test_password_is_not_in_the_repr(self) -> None:
        assert "s3cret" not in repr(self.examples[0])
