"""Data connections over HTTP, on fakes: registration through the admin API, and a chat request's
``data_sources`` matched to a connection of its own resource before anything is published."""

from __future__ import annotations

import asyncio
import base64

import pytest

from contracts.grounding_requests_v2 import GroundingRequested
from services.connections.model import credentials_associated_data
from services.runtime.sealing import SecretSealer, StaticKeyProvider
from tests.unit.builders import MODEL
from tests.unit.gateway_fakes import ADMIN_KEY, gateway

KEY = bytes(range(32))
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}
CHAT = "/openai/deployments/chat-prod/chat/completions?api-version=2024-10-21"
PUBLIC = "mongodb://docs.contoso.example:27017/"


@pytest.fixture
def h():
    return gateway(connections_key=base64.b64encode(KEY).decode(), mongo_uri="mongodb://127.0.0.1:28017/")


def register(h, resource="contoso", **body):
    spec = {"name": "kb", "endpoint": PUBLIC, "database_name": "kb", **body}
    return h.admin.post(f"/admin/resources/{resource}/data-connections", json=spec, headers=ADMIN)


def grounded(h, key="contoso", deployment="chat-prod", **parameters):
    source = {"endpoint": PUBLIC, "database_name": "kb", "collection_name": "articles", **parameters}
    return h.client.post(CHAT.replace("chat-prod", deployment), headers={"api-key": h.keys[key]}, json={
        "messages": [{"role": "user", "content": "What is the refund policy?"}],
        "data_sources": [{"type": "mongo_db", "parameters": source}]})


def store_of(h):
    return h.client.app.state.gateway.ports.connections.store


def test_a_registered_connection_is_shown_without_its_password_and_stored_sealed(h):
    response = register(h, username="reader", password="canary-pass-71")
    assert response.status_code == 201, response.text
    view = response.json()
    assert view["endpoint"] == "mongodb://docs.contoso.example:27017/?tls=false"
    assert (view["username"], view["has_password"]) == ("reader", True)
    assert "canary-pass-71" not in response.text
    [stored] = store_of(h).connections.values()
    assert b"canary-pass-71" not in stored.password.ciphertext
    sealer = SecretSealer(StaticKeyProvider({"connections-1": KEY}), "connections-1")
    opened = asyncio.run(sealer.open(stored.password, credentials_associated_data("contoso", "kb")))
    assert opened == b"canary-pass-71"
    listed = h.admin.get("/admin/resources/contoso/data-connections", headers=ADMIN)
    assert [c["name"] for c in listed.json()["data"]] == ["kb"] and "canary" not in listed.text


def test_credentials_in_the_uri_are_taken_out_of_it_and_sealed(h):
    response = register(h, endpoint="mongodb://reader:uri-secret-9@docs.contoso.example/?authSource=admin")
    assert response.status_code == 201, response.text
    assert "uri-secret-9" not in response.text and response.json()["username"] == "reader"
    [stored] = store_of(h).connections.values()
    assert "uri-secret-9" not in repr(stored) and stored.password is not None


@pytest.mark.parametrize("body, code", [
    ({"endpoint": "127.0.0.1:28017"}, "data_source_refused"),             # the platform's own store
    ({"endpoint": "mongodb://169.254.169.254:80/"}, "data_source_refused"),  # cloud metadata
    ({"endpoint": "internal.contoso.example"}, "data_source_refused"),    # resolves to a private address
    ({"endpoint": "mongodb://docs.contoso.example/?authMechanism=MONGODB-OIDC"
                  "&authMechanismProperties=ENVIRONMENT:k8s"}, "data_source_refused"),
    ({"endpoint": "mongodb://docs.contoso.example/?tlsCAFile=/etc/ssl/private/key.pem"}, "data_source_refused"),
    ({"database_name": "residency_control"}, "data_source_refused"),
    ({"database_name": "admin"}, "data_source_refused"),
])
def test_a_connection_the_policy_refuses_is_never_registered(h, body, code):
    response = register(h, **body)
    assert response.status_code == 400, response.text
    assert (response.json()["error"]["code"], response.json()["error"]["param"]) == (code, "endpoint")
    assert store_of(h).connections == {}


def test_a_password_without_a_connections_key_is_refused():
    h = gateway()
    response = register(h, username="reader", password="x")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "connections_key_missing")


def test_a_grounded_request_names_the_connection_on_the_bus_never_its_credentials(h):
    assert register(h, username="reader", password="canary-pass-71").status_code == 201
    response = grounded(h, authentication={"type": "username_and_password", "username": "reader",
                                           "password": "request-password-5"})
    assert response.status_code == 200, response.text
    [request] = h.bus.of_type(GroundingRequested)
    assert request.data_source.connection == "kb" and request.data_source.database_name == "kb"
    wire = request.model_dump_json()
    assert "request-password-5" not in wire and "canary-pass-71" not in wire and "docs.contoso" not in wire


def test_a_request_may_name_its_connection_instead_of_the_endpoint(h):
    assert register(h).status_code == 201
    response = grounded(h, endpoint=None, connection="kb")
    assert response.status_code == 200, response.text
    assert h.bus.of_type(GroundingRequested)[0].data_source.connection == "kb"


@pytest.mark.parametrize("parameters, param", [
    ({"endpoint": "mongodb://other.contoso.example/"}, "data_sources.[0].parameters.endpoint"),
    ({"database_name": "other"}, "data_sources.[0].parameters.endpoint"),
    ({"endpoint": None, "connection": "not-there"}, "data_sources.[0].parameters.connection"),
    ({"endpoint": "127.0.0.1:28017", "database_name": "residency_control", "collection_name": "resources"},
     "data_sources.[0].parameters.database_name"),
    ({"collection_name": "system.users"}, "data_sources.[0].parameters.database_name"),
])
def test_a_data_source_not_registered_for_the_resource_is_refused_before_publishing(h, parameters, param):
    assert register(h).status_code == 201
    response = grounded(h, **parameters)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert h.bus.published == []


def test_one_tenant_cannot_use_another_tenants_connection(h):
    assert register(h, resource="contoso").status_code == 201
    by_endpoint = grounded(h, key="fabrikam", deployment="fab-only")  # same endpoint and database
    by_name = grounded(h, key="fabrikam", deployment="fab-only", endpoint=None, connection="kb")
    for response in (by_endpoint, by_name):
        assert (response.status_code, response.json()["error"]["code"]) == (400, "data_source_not_registered")
    assert h.bus.published == []
    assert h.admin.get("/admin/resources/fabrikam/data-connections/kb", headers=ADMIN).status_code == 404


def test_a_username_other_than_the_registered_one_is_refused(h):
    assert register(h, username="reader", password="pw").status_code == 201
    response = grounded(h, authentication={"type": "username_and_password", "username": "root", "password": "x"})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "data_source_refused")
    assert h.bus.published == []


def test_deleting_the_resource_deletes_its_connections(h):
    assert register(h).status_code == 201
    assert h.admin.delete("/admin/resources/contoso", headers=ADMIN).status_code == 204
    assert store_of(h).connections == {}


def test_context_parts_follow_include_contexts_and_the_embedding_deployment_is_the_resources_own(h):
    from contracts.gateway_replies import GroundingFound, RetrievedDocument
    from tests.unit.gateway_fakes import completion, screened

    doc = RetrievedDocument(content="Tides follow the moon.", chunk_id="kb-1", search_queries=["tides"],
                            original_search_score=0.03, filter_reason="score")
    h.bus.answer = lambda request: [GroundingFound(**request.envelope(), citations=[], intent='["tides"]',
                                                   all_retrieved_documents=[doc]),
                                    screened(request), completion(request, "No idea.")]
    assert register(h).status_code == 201
    missing = grounded(h, embedding_dependency={"type": "deployment_name", "deployment_name": "nope"},
                       fields_mapping={"vector_fields": ["vector"]})
    assert (missing.status_code, missing.json()["error"]["param"]) == (
        400, "data_sources.[0].parameters.embedding_dependency.deployment_name")
    no_dependency = grounded(h, fields_mapping={"vector_fields": ["vector"]})
    assert no_dependency.status_code == 400 and "embedding_dependency" in no_dependency.json()["error"]["param"]
    response = grounded(h, embedding_dependency={"type": "deployment_name", "deployment_name": "chat-prod"},
                        fields_mapping={"vector_fields": ["vector"]},
                        include_contexts=["intent", "all_retrieved_documents"])
    assert response.status_code == 200, response.text
    context = response.json()["choices"][0]["message"]["context"]
    assert set(context) == {"intent", "all_retrieved_documents"} and context["intent"] == '["tides"]'
    assert context["all_retrieved_documents"][0]["filter_reason"] == "score"
    [request] = h.bus.of_type(GroundingRequested)
    assert (request.data_source.embedding_deployment, request.data_source.vector_fields) == ("chat-prod", ["vector"])
    assert request.data_source.embedding_model == MODEL  # the model of the resource's chat-prod deployment


def test_the_api_versions_that_define_mongo_db_are_accepted(h):
    assert register(h).status_code == 201
    response = h.client.post(CHAT.replace("2024-10-21", "2024-08-01-preview"), headers={"api-key": h.keys["contoso"]},
                             json={"messages": [{"role": "user", "content": "refund policy?"}],
                                   "data_sources": [{"type": "mongo_db", "parameters": {
                                       "endpoint": PUBLIC, "database_name": "kb", "collection_name": "articles"}}]})
    assert response.status_code == 200, response.text
