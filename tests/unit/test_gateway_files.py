"""The files and fine-tuning routes on fakes: what reaches the tuning topics, limits, ownership."""

from __future__ import annotations

import base64
import hashlib

import pytest

from contracts.tuning_files import DeleteFile, FileChunkUploaded, FileUploadAborted, FileUploadCompleted
from contracts.tuning_jobs import TrainFineTuningJob
from tests.fixtures.fine_tuning import canary_jsonl
from tests.unit.gateway_fakes import ADMIN_KEY, gateway

VERSION = "api-version=2024-10-21"


def upload(h, content: bytes = b"", key: str = "contoso", path: str = "/v1/files", purpose: str = "fine-tune"):
    return h.client.post(path, headers={"api-key": h.keys[key]}, data={"purpose": purpose},
                         files={"file": ("train.jsonl", content or canary_jsonl(), "application/jsonl")})


async def processed(h, file_id: str, resource: str = "contoso", examples: int = 10) -> None:
    await h.tuning_catalog.set_file_status(resource, file_id, "processed", None, examples=examples)


def test_an_upload_streams_in_ordered_chunks_keyed_by_file_then_completes() -> None:
    h = gateway(files_chunk_bytes=1024)
    content = canary_jsonl() * 3
    response = upload(h, content, path=f"/openai/files?{VERSION}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["object"], body["status"], body["bytes"], body["purpose"]) == ("file", "uploaded", len(content),
                                                                               "fine-tune")
    chunks = h.tuning.of_type(FileChunkUploaded)
    assert len(chunks) == -(-len(content) // 1024) and [c.sequence for c in chunks] == list(range(len(chunks)))
    assert {c.file_id for c in chunks} == {body["id"]} and all(c.resource_id == "contoso" for c in chunks)
    assert b"".join(base64.b64decode(c.data) for c in chunks) == content
    [done] = h.tuning.of_type(FileUploadCompleted)
    assert done.sha256 == hashlib.sha256(content).hexdigest() and done.chunks == len(chunks)
    assert h.tuning.published[-1] is done  # the record exists before tuning hears the upload is complete


def test_an_upload_over_the_limit_is_a_413_and_aborted() -> None:
    h = gateway(files_max_bytes=2048, files_chunk_bytes=1024)
    response = upload(h, b"x" * 10_000)
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"
    assert not h.tuning_catalog.files
    response = h.client.post("/v1/files", headers={"api-key": h.keys["contoso"], "content-length": "999999999",
                                                   "content-type": "multipart/form-data; boundary=x"}, content=b"")
    assert response.status_code == 413


def test_a_chunk_published_before_a_refusal_is_followed_by_an_abort() -> None:
    h = gateway(files_chunk_bytes=1024)
    response = upload(h, canary_jsonl() * 2, purpose="assistants")
    assert response.status_code == 400 and response.json()["error"]["param"] == "purpose"
    assert h.tuning.of_type(FileChunkUploaded) and h.tuning.of_type(FileUploadAborted)
    assert not h.tuning.of_type(FileUploadCompleted) and not h.tuning_catalog.files


@pytest.mark.parametrize(("body", "headers"), [
    (b"{}", {"content-type": "application/json"}),
    (b"--x\r\ngarbage", {"content-type": "multipart/form-data; boundary=x"}),
])
def test_a_malformed_upload_is_a_400(body, headers) -> None:
    h = gateway()
    response = h.client.post("/v1/files", headers={"api-key": h.keys["contoso"], **headers}, content=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "file"


def test_the_azure_style_needs_an_api_version_and_a_key() -> None:
    h = gateway()
    assert h.client.get("/openai/files", headers={"api-key": h.keys["contoso"]}).status_code == 400
    assert h.client.get(f"/openai/files?{VERSION}").status_code == 401


async def test_another_resource_gets_404_for_files_and_jobs() -> None:
    h = gateway()
    file_id = upload(h).json()["id"]
    await processed(h, file_id)
    job = h.client.post("/v1/fine_tuning/jobs", headers={"api-key": h.keys["contoso"]},
                        json={"model": "smollm2-135m-instruct", "training_file": file_id}).json()
    other = {"api-key": h.keys["fabrikam"]}
    for method, path in (("GET", f"/v1/files/{file_id}"), ("GET", f"/v1/files/{file_id}/content"),
                         ("DELETE", f"/v1/files/{file_id}"), ("GET", f"/v1/fine_tuning/jobs/{job['id']}"),
                         ("GET", f"/v1/fine_tuning/jobs/{job['id']}/events"),
                         ("GET", f"/v1/fine_tuning/jobs/{job['id']}/checkpoints"),
                         ("POST", f"/v1/fine_tuning/jobs/{job['id']}/cancel")):
        response = h.client.request(method, path, headers=other)
        assert response.status_code == 404, (path, response.text)
    assert h.client.get("/v1/files", headers=other).json()["data"] == []
    assert h.client.get("/v1/fine_tuning/jobs", headers=other).json()["data"] == []
    refused = h.client.post("/v1/fine_tuning/jobs", headers=other,
                            json={"model": "smollm2-135m-instruct", "training_file": file_id})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "training_file"
    assert (await h.tuning_catalog.get_file("contoso", file_id)) is not None  # untouched by the stranger


async def test_a_job_is_recorded_queued_and_published_with_resolved_hyperparameters() -> None:
    h = gateway()
    file_id = upload(h).json()["id"]
    key = {"api-key": h.keys["contoso"]}
    not_ready = h.client.post("/v1/fine_tuning/jobs", headers=key,
                              json={"model": "smollm2-135m-instruct", "training_file": file_id})
    assert not_ready.status_code == 400 and not_ready.json()["error"]["code"] == "file_not_ready"
    await processed(h, file_id)
    wrong_model = h.client.post("/v1/fine_tuning/jobs", headers=key, json={"model": "gpt-4o", "training_file": file_id})
    assert wrong_model.status_code == 400 and wrong_model.json()["error"]["param"] == "model"
    bad_epochs = h.client.post("/v1/fine_tuning/jobs", headers=key, json={
        "model": "smollm2-135m-instruct", "training_file": file_id, "hyperparameters": {"n_epochs": 500}})
    assert bad_epochs.status_code == 400 and bad_epochs.json()["error"]["param"] == "hyperparameters.n_epochs"
    response = h.client.post(f"/openai/fine_tuning/jobs?{VERSION}", headers=key, json={
        "model": "smollm2-135m-instruct", "training_file": file_id, "seed": 42,
        "method": {"type": "supervised", "supervised": {"hyperparameters": {"batch_size": 2}}}})
    assert response.status_code == 200, response.text
    job = response.json()
    assert job["status"] == "queued" and job["fine_tuned_model"] is None
    assert job["hyperparameters"] == {"n_epochs": 3, "batch_size": 2, "learning_rate_multiplier": 1.0}
    [message] = h.tuning.of_type(TrainFineTuningJob)
    assert (message.job_id, message.seed, message.training_file) == (job["id"], 42, file_id)
    assert message.fine_tuned_model == f"smollm2-135m-instruct.ft-{job['id'].removeprefix('ftjob-')}"
    listed = h.client.get("/v1/fine_tuning/jobs?limit=1", headers=key).json()
    assert [j["id"] for j in listed["data"]] == [job["id"]] and listed["has_more"] is False
    cancelled = h.client.post(f"/v1/fine_tuning/jobs/{job['id']}/cancel", headers=key).json()
    assert cancelled["status"] == "cancelled"
    again = h.client.post(f"/v1/fine_tuning/jobs/{job['id']}/cancel", headers=key)
    assert again.status_code == 400 and again.json()["error"]["code"] == "job_finished"
    # The cancel's own event, there as soon as the status says cancelled; the refused one wrote none.
    events = h.client.get(f"/v1/fine_tuning/jobs/{job['id']}/events", headers=key).json()["data"]
    assert [e["message"] for e in events] == ["The job was cancelled"]


def test_delete_hides_the_file_at_once_and_asks_tuning_to_shred_it() -> None:
    h = gateway()
    key = {"api-key": h.keys["contoso"]}
    file_id = upload(h).json()["id"]
    assert h.client.delete(f"/v1/files/{file_id}", headers=key).json() == {
        "id": file_id, "object": "file", "deleted": True}
    assert h.client.get(f"/v1/files/{file_id}", headers=key).status_code == 404
    assert h.client.delete(f"/v1/files/{file_id}", headers=key).status_code == 404
    [command] = h.tuning.of_type(DeleteFile)
    assert command.file_id == file_id and command.resource_id == "contoso"


def test_malformed_ids_are_404_not_5xx() -> None:
    h = gateway()
    key = {"api-key": h.keys["contoso"]}
    for path in ("/v1/files/..%2F..", "/v1/files/file-zz", "/v1/fine_tuning/jobs/x/events"):
        assert h.client.get(path, headers=key).status_code == 404


async def test_a_deployment_may_name_only_its_own_resources_fine_tuned_model() -> None:
    from datetime import UTC, datetime

    from services.tuning_catalog.model import FineTunedModel

    h = gateway()
    name = "smollm2-135m-instruct.ft-" + "c" * 24
    await h.tuning_catalog.put_model(FineTunedModel(
        name=name, resource_id="contoso", job_id="ftjob-" + "c" * 24, base_model="smollm2-135m-instruct",
        created_at=datetime.now(UTC), adapter_object=f"adapter/{name}", adapter_bytes=10))
    admin = {"authorization": "Bearer " + ADMIN_KEY}

    def deploy(resource: str, adapter: str, model: str = "smollm2-135m-instruct"):
        return h.admin.patch(f"/admin/resources/{resource}", headers=admin,
                             json={"deployments": [{"name": "tuned", "model": model, "adapter": adapter}]})

    refused = deploy("fabrikam", name)
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "deployments.[0].adapter"
    assert deploy("contoso", name, model="other-base").status_code == 400
    assert deploy("contoso", "some-folder-anyone-could-name").status_code == 400
    accepted = deploy("contoso", name)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["deployments"][0]["adapter"] == name


async def test_deleting_a_model_hides_it_at_once_and_asks_for_shredding() -> None:
    from datetime import UTC, datetime

    from contracts.tuning_model_deletions import DeleteFineTunedModel
    from services.tuning_catalog.model import FineTunedModel

    h = gateway()
    name = "smollm2-135m-instruct.ft-" + "d" * 24
    await h.tuning_catalog.put_model(FineTunedModel(
        name=name, resource_id="contoso", job_id="ftjob-" + "d" * 24, base_model="smollm2-135m-instruct",
        created_at=datetime.now(UTC), adapter_object=f"adapter/{name}", adapter_bytes=10))
    assert h.client.delete(f"/v1/models/{name}", headers={"api-key": h.keys["fabrikam"]}).status_code == 404
    response = h.client.delete(f"/openai/models/{name}?{VERSION}", headers={"api-key": h.keys["contoso"]})
    assert response.json() == {"id": name, "object": "model", "deleted": True}
    assert await h.tuning_catalog.get_model("contoso", name) is None
    [command] = h.tuning.of_type(DeleteFineTunedModel)
    assert (command.resource_id, command.model) == ("contoso", name)
    assert h.client.delete(f"/v1/models/{name}", headers={"api-key": h.keys["contoso"]}).status_code == 404
