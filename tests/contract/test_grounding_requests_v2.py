from contracts import grounding_requests_v2
from contracts.common import ChatMessage, SamplingParams
from contracts.grounding_requests_v2 import ConnectionDataSource, GroundingRequested
from contracts.registry import RETIRED_TOPICS, TOPICS, retired_topic_names
from tests.contract.suite import ENVELOPE, ContractSuite


class TestGroundingRequestsV2(ContractSuite):
    module = grounding_requests_v2
    examples = [GroundingRequested(
        **ENVELOPE, model="smollm2-135m-instruct", messages=[ChatMessage(role="user", content="Who won?")],
        sampling=SamplingParams(max_tokens=64), end_user="u-7",
        data_source=ConnectionDataSource(connection="kb-prod", database_name="kb", collection_name="articles",
                                         title_field="title", top_n_documents=3))]

    def test_no_field_can_carry_a_credential(self) -> None:
        names = set(ConnectionDataSource.model_fields) | set(GroundingRequested.model_fields)
        assert not {n for n in names if any(word in n for word in ("password", "secret", "token", "endpoint"))}

    def test_v1_which_carried_passwords_is_retired_and_deleted_by_the_topic_admin(self) -> None:
        assert "{region}.retrieval.grounding-requests.v1" in RETIRED_TOPICS
        assert not any(spec.template in RETIRED_TOPICS for spec in TOPICS)
        assert retired_topic_names("eu-west") == ["eu-west.retrieval.grounding-requests.v1",
                                                  "eu-west.retrieval.grounding-requests.v1.dlq"]
