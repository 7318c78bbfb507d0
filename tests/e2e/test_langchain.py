"""LangChain's Azure and OpenAI chat models work against the gateway unchanged."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_openai import AzureChatOpenAI, ChatOpenAI

from tests.conftest import ECHO_MODEL

pytestmark = [pytest.mark.stack, pytest.mark.kafka, pytest.mark.mongo]


@pytest.fixture(scope="module")
def key(stack) -> str:
    return stack.create_resource(f"langchain-{stack.region}", {"echo": ECHO_MODEL})["keys"]["key1"]


def test_azure_chat_openai_invokes_and_streams(stack, key) -> None:
    model = AzureChatOpenAI(azure_endpoint=stack.gateways[0], api_key=key, api_version="2024-10-21",
                            azure_deployment="echo", max_retries=0)
    reply = model.invoke([SystemMessage("Be brief."), HumanMessage("hello from langchain")])
    assert reply.content == "You said: hello from langchain"
    assert reply.response_metadata["finish_reason"] == "stop"
    assert reply.usage_metadata["total_tokens"] > 0
    streamed = "".join(chunk.content for chunk in model.stream("stream this"))
    assert streamed == "You said: stream this"


def test_chat_openai_against_the_v1_path(stack, key) -> None:
    model = ChatOpenAI(base_url=f"{stack.gateways[1]}/v1", api_key=key, model="echo", max_retries=0)
    assert model.invoke("hi there").content == "You said: hi there"
