"""Item: a dead letter of a request topic answers its caller at once. A resource whose stored
filter policy no longer validates (a blocklist pattern from before RE2, with a look-behind) makes
the filter dead-letter every prompt of it; the caller gets a 500 naming its request within
seconds, not a 504 after the gateway's 60 s reply time-out."""

from __future__ import annotations

import pytest
from pymongo import MongoClient

from tests.security.edge_support import HELLO, chat_url, client, timed, unique

pytestmark = pytest.mark.stack


def store_raw_policy(stack, resource_id: str, document: dict) -> None:
    database = f"residency_filter_{stack.region.replace('-', '_')}"
    with MongoClient(stack.infra.mongo) as mongo:
        mongo[database]["filter_policies"].replace_one({"_id": resource_id}, {"_id": resource_id, **document},
                                                        upsert=True)


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "streamed"])
def test_a_request_dead_lettered_downstream_is_answered_at_once(stack, stream):
    resource_id = unique("edge-dlq")
    key = stack.create_resource(resource_id, {"echo": "echo"})["keys"]["key1"]
    store_raw_policy(stack, resource_id, {"blocklists": [{"id": "old", "patterns": ["(?<=secret )word"]}],
                                          "default": {"prompt": {"blocklists": ["old"]}}, "deployments": []})
    with client(stack, key) as gateway:
        result = timed(gateway, "POST", chat_url(), json={"messages": HELLO, "stream": stream})
    response = result.response
    assert response.status_code == 500, response.text
    assert result.elapsed_s < 10, f"answered after {result.elapsed_s:.1f} s (the reply time-out is 60 s)"
    error = response.json()["error"]
    assert (error["code"], error["type"]) == ("internal_error", "server_error")
    assert response.headers["x-request-id"] in error["message"]
