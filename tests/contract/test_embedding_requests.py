from contracts import embedding_requests
from contracts.embedding_requests import EmbedTexts
from tests.contract.suite import ENVELOPE, ContractSuite


class TestEmbeddingRequests(ContractSuite):
    module = embedding_requests
    examples = [EmbedTexts(**ENVELOPE, model="all-minilm-l6-v2", inputs=["first text", "second"], dimensions=128)]
