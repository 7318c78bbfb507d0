"""The tuning service's handlers on fakes: files sealed, validated, read and shredded; jobs trained
once, failed cleanly after a worker stopped, cancelled between steps."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from contracts.gateway_replies import FileContentChunk, RequestFailed
from contracts.tuning_files import (
    DeleteFile,
    FileChunkUploaded,
    FileUploadAborted,
    FileUploadCompleted,
    ReadFileContent,
)
from contracts.tuning_jobs import Hyperparameters as HyperparametersMessage
from contracts.tuning_jobs import TrainFineTuningJob
from services.runtime.sealing import StaticKeyProvider
from services.tuning.errors import WrongRegion
from services.tuning.handlers import FilePorts, handle_file_message
from services.tuning.jobs import JobPorts, run_job
from services.tuning.validation import Limits
from services.tuning_catalog.errors import ContentGone
from services.tuning_catalog.events import cancel_job
from services.tuning_catalog.model import FileRecord, Hyperparameters, JobRecord, adapter_object, fine_tuned_model_name
from services.tuning_catalog.vault import TuningVault
from tests.fixtures.fine_tuning import bad_jsonl, canary_jsonl
from tests.unit.tuning_fakes import InMemorySealedObjects, InMemoryTuningCatalog, RecordingPublisher, ScriptedTrainer

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
FILE = "file-" + "a" * 24
JOB = "ftjob-" + "b" * 24
BASE = "smollm2-135m-instruct"
ENVELOPE = {"request_id": "req-0123456789", "resource_id": "contoso", "region": "eu-west", "deployment": "files",
            "created_at": NOW, "reply_to": "gw-1"}


class World:
    def __init__(self, trainer: ScriptedTrainer | None = None) -> None:
        self.now = NOW
        self.catalog = InMemoryTuningCatalog()
        self.sealed = InMemorySealedObjects()
        self.vault = TuningVault(self.sealed, StaticKeyProvider({"k": bytes(32)}), "k", lambda: self.now)
        self.adapters = TuningVault(self.sealed, StaticKeyProvider({"a": bytes(range(32))}), "a", lambda: self.now)
        self.replies = RecordingPublisher()
        self.trainer = trainer or ScriptedTrainer([3.0, 2.0, 1.0, 0.5])
        self.files = FilePorts(catalog=self.catalog, vault=self.vault, replies=self.replies, limits=Limits(),
                               clock=lambda: self.now, region="eu-west")
        self.jobs = JobPorts(catalog=self.catalog, vault=self.vault, adapters=self.adapters, trainer=self.trainer,
                             clock=lambda: self.now,
                             worker_id="worker-1", stale_after_s=120, base_models={BASE: "/models/base"},
                             region="eu-west")

    async def upload(self, content: bytes, *, chunk: int = 100, file_id: str = FILE, resource: str = "contoso") -> None:
        envelope = {**ENVELOPE, "resource_id": resource}
        pieces = [content[i:i + chunk] for i in range(0, len(content), chunk)]
        for sequence, piece in enumerate(pieces):
            await handle_file_message(FileChunkUploaded(**envelope, file_id=file_id, sequence=sequence,
                                                        data=base64.b64encode(piece).decode()), self.files)
        await self.catalog.insert_file(FileRecord(file_id=file_id, resource_id=resource, filename="t.jsonl",
                                                  purpose="fine-tune", bytes=len(content), created_at=NOW))
        await handle_file_message(FileUploadCompleted(
            **envelope, file_id=file_id, chunks=len(pieces), bytes=len(content),
            sha256=hashlib.sha256(content).hexdigest(), purpose="fine-tune"), self.files)

    async def queue_job(self) -> TrainFineTuningJob:
        h = Hyperparameters(n_epochs=1, batch_size=1, learning_rate_multiplier=1.0)
        await self.catalog.insert_job(JobRecord(
            job_id=JOB, resource_id="contoso", model=BASE, training_file=FILE, validation_file=None,
            hyperparameters=h, seed=1, suffix=None, fine_tuned_model_name=fine_tuned_model_name(BASE, JOB),
            created_at=NOW))
        return TrainFineTuningJob(**ENVELOPE, job_id=JOB, model=BASE, training_file=FILE, seed=1,
                                  hyperparameters=HyperparametersMessage(**h.model_dump()),
                                  fine_tuned_model=fine_tuned_model_name(BASE, JOB))


async def test_a_good_upload_is_sealed_and_processed() -> None:
    world = World()
    await world.upload(canary_jsonl())
    record = await world.catalog.get_file("contoso", FILE)
    assert record is not None and (record.status, record.examples, record.status_details) == ("processed", 10, None)
    assert len(world.sealed.chunks_of[("contoso", FILE)]) > 1
    assert all(b"Zorbled" not in c.ciphertext for c in world.sealed.chunks_of[("contoso", FILE)].values())


async def test_a_bad_upload_is_an_error_with_line_numbers() -> None:
    world = World()
    await world.upload(bad_jsonl())
    record = await world.catalog.get_file("contoso", FILE)
    assert record is not None and record.status == "error"
    assert record.status_details is not None and "line 2" in record.status_details


async def test_an_upload_that_did_not_arrive_whole_is_an_error() -> None:
    world = World()
    content = canary_jsonl()
    await handle_file_message(FileChunkUploaded(**ENVELOPE, file_id=FILE, sequence=0,
                                                data=base64.b64encode(content[:100]).decode()), world.files)
    await world.catalog.insert_file(FileRecord(file_id=FILE, resource_id="contoso", filename="t.jsonl",
                                               purpose="fine-tune", bytes=len(content), created_at=NOW))
    await handle_file_message(FileUploadCompleted(**ENVELOPE, file_id=FILE, chunks=9, bytes=len(content),
                                                  sha256=hashlib.sha256(content).hexdigest(), purpose="fine-tune"),
                              world.files)
    record = await world.catalog.get_file("contoso", FILE)
    assert record is not None and record.status == "error" and "did not arrive whole" in (record.status_details or "")


async def test_content_is_answered_in_order_to_the_asking_replica() -> None:
    world = World()
    await world.upload(canary_jsonl(), chunk=300)
    await handle_file_message(ReadFileContent(**ENVELOPE, file_id=FILE), world.files)
    pieces = world.replies.of_type(FileContentChunk)
    assert [p.sequence for p in pieces] == list(range(len(pieces))) and pieces[-1].final
    assert not any(p.final for p in pieces[:-1]) and all(p.reply_to == "gw-1" for p in pieces)
    assert b"".join(base64.b64decode(p.data) for p in pieces) == canary_jsonl()


async def test_another_resource_reads_nothing() -> None:
    world = World()
    await world.upload(canary_jsonl())
    await handle_file_message(ReadFileContent(**{**ENVELOPE, "resource_id": "fabrikam"}, file_id=FILE), world.files)
    [failed] = world.replies.published
    assert isinstance(failed, RequestFailed) and failed.error.status == 404


@pytest.mark.parametrize("command", [DeleteFile(**ENVELOPE, file_id=FILE),
                                     FileUploadAborted(**ENVELOPE, file_id=FILE, reason="interrupted")])
async def test_delete_and_abort_shred_key_chunks_and_record(command) -> None:
    world = World()
    await world.upload(canary_jsonl())
    await handle_file_message(command, world.files)
    assert world.sealed.keys[("contoso", FILE)].wrapped is None and ("contoso", FILE) not in world.sealed.chunks_of
    assert await world.catalog.get_file("contoso", FILE) is None
    # a chunk delivered again afterwards is dropped, not stored under a new key
    await handle_file_message(FileChunkUploaded(**ENVELOPE, file_id=FILE, sequence=0, data="eA=="), world.files)
    assert ("contoso", FILE) not in world.sealed.chunks_of


async def test_a_job_trains_once_and_stores_its_adapter_sealed() -> None:
    world = World()
    await world.upload(canary_jsonl())
    message = await world.queue_job()
    await run_job(message, world.jobs)
    job = await world.catalog.get_job("contoso", JOB)
    name = fine_tuned_model_name(BASE, JOB)
    assert job is not None and (job.status, job.fine_tuned_model, job.trained_tokens) == ("succeeded", name, 40)
    assert len(world.trainer.plans[0].examples) == 10
    assert await world.adapters.read_all("contoso", adapter_object(name)) == b"adapter-bytes" * 100
    with pytest.raises(ContentGone):  # the files key opens no adapter (and the adapters key no file)
        await world.vault.read_all("contoso", adapter_object(name))
    with pytest.raises(ContentGone):
        await world.adapters.read_all("contoso", FILE)
    assert (await world.catalog.get_model("contoso", name)) is not None
    assert await world.catalog.get_model("fabrikam", name) is None
    losses = [e.data["train_loss"] for e in world.catalog.events if e.type == "metrics" and e.data]
    assert losses == [3.0, 2.0, 1.0, 0.5]
    [checkpoint] = world.catalog.checkpoints
    assert checkpoint.step_number == 4 and checkpoint.fine_tuned_model_checkpoint == name
    await run_job(message, world.jobs)  # delivered again: nothing trains twice
    assert len(world.trainer.plans) == 1


async def test_a_succeeded_job_names_its_step_metrics_file_in_result_files() -> None:
    world = World()
    await world.upload(canary_jsonl())
    await run_job(await world.queue_job(), world.jobs)
    job = await world.catalog.get_job("contoso", JOB)
    assert job is not None and job.status == "succeeded" and len(job.result_files) == 1
    record = await world.catalog.get_file("contoso", job.result_files[0])
    assert record is not None and (record.purpose, record.status, record.filename) == (
        "fine-tune-results", "processed", "step_metrics.csv")
    rows = (await world.vault.read_all("contoso", record.file_id)).decode().splitlines()
    assert rows[0] == "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
    assert [(int(r.split(",")[0]), float(r.split(",")[1])) for r in rows[1:]] == [(1, 3.0), (2, 2.0), (3, 1.0),
                                                                                 (4, 0.5)]
    assert record.bytes == len("\n".join(rows)) + 1
    assert await world.catalog.get_file("fabrikam", record.file_id) is None  # the owner's file, no one else's


async def test_a_job_cancelled_after_its_last_step_keeps_no_adapter_and_no_results_file() -> None:
    world = World()
    await world.upload(canary_jsonl())
    message = await world.queue_job()
    original_checkpoint = world.catalog.add_checkpoint

    async def checkpoint_then_cancel(checkpoint):
        await original_checkpoint(checkpoint)
        await cancel_job(world.catalog, "contoso", JOB, NOW)  # the owner, through the gateway

    world.catalog.add_checkpoint = checkpoint_then_cancel  # type: ignore[method-assign]
    await run_job(message, world.jobs)
    job = await world.catalog.get_job("contoso", JOB)
    assert job is not None and job.status == "cancelled" and job.result_files == []
    assert [f.file_id for f in await world.catalog.list_files("contoso")] == [FILE]
    assert all(key.wrapped is None for (_, obj), key in world.sealed.keys.items() if obj != FILE)
    assert not world.catalog.models
    messages = [e.message for e in await world.catalog.list_events("contoso", JOB, limit=100)]
    assert messages.count("The job was cancelled") == 1 and "The job has successfully completed" not in messages


def newest_event_when_the_job_finishes(world: World) -> list[str]:
    """What a reader polling the job would see in its events the moment it reads the job finished."""
    seen: list[str] = []
    original = world.catalog.finish_job

    async def finish_then_look(*args, **kwargs):
        flipped = await original(*args, **kwargs)
        if flipped:
            seen.extend(e.message for e in await world.catalog.list_events("contoso", JOB, limit=1))
        return flipped

    world.catalog.finish_job = finish_then_look  # type: ignore[method-assign]
    return seen


async def test_a_finished_jobs_last_events_are_there_when_its_status_says_so() -> None:
    world = World()
    await world.upload(canary_jsonl())
    seen = newest_event_when_the_job_finishes(world)
    await run_job(await world.queue_job(), world.jobs)
    assert seen == ["The job has successfully completed"]
    messages = [e.message for e in await world.catalog.list_events("contoso", JOB, limit=3)]
    assert messages[1].startswith("New fine-tuned model created: ")

    broken = World(ScriptedTrainer([1.0], fail=RuntimeError("boom")))
    await broken.upload(canary_jsonl())
    seen = newest_event_when_the_job_finishes(broken)
    await run_job(await broken.queue_job(), broken.jobs)
    assert len(seen) == 1 and seen[0].startswith("The job failed: ")


async def test_closing_events_of_a_job_cancelled_meanwhile_are_withdrawn() -> None:
    world = World()
    await world.upload(canary_jsonl())
    message = await world.queue_job()
    original_add = world.catalog.add_event

    async def add_then_cancel(event):  # the owner cancels between the closing events and the status flip
        await original_add(event)
        if event.message == "The job has successfully completed":
            await cancel_job(world.catalog, "contoso", JOB, NOW)  # the owner, through the gateway

    world.catalog.add_event = add_then_cancel  # type: ignore[method-assign]
    await run_job(message, world.jobs)
    job = await world.catalog.get_job("contoso", JOB)
    assert job is not None and job.status == "cancelled" and not world.catalog.models
    messages = [e.message for e in await world.catalog.list_events("contoso", JOB, limit=100)]
    assert messages[0] == "The job was cancelled"
    assert not [m for m in messages if m.startswith("New fine-tuned model") or "successfully" in m]


async def test_event_order_survives_a_wall_clock_stepping_back(monkeypatch) -> None:
    world = World()
    await world.upload(canary_jsonl())
    ticks = iter(range(10**18, 0, -10**9))  # every reading a second earlier than the last
    monkeypatch.setattr("services.tuning.jobs.time.time_ns", lambda: next(ticks))
    await run_job(await world.queue_job(), world.jobs)
    written = [e.sequence for e in world.catalog.events]
    assert len(written) > 5 and written == sorted(set(written))
    newest = await world.catalog.list_events("contoso", JOB, limit=1)
    assert newest[0].message == "The job has successfully completed"


async def test_a_job_whose_worker_stopped_fails_cleanly_when_its_message_returns() -> None:
    world = World()
    await world.upload(canary_jsonl())
    message = await world.queue_job()
    await world.catalog.claim_job("contoso", JOB, "worker-0", NOW)  # the worker then died
    world.now = NOW + timedelta(seconds=30)
    await run_job(message, world.jobs)  # its heartbeat is fresh: someone may still have it
    assert (await world.catalog.get_job("contoso", JOB)).status == "running"
    world.now = NOW + timedelta(seconds=600)
    await run_job(message, world.jobs)
    job = await world.catalog.get_job("contoso", JOB)
    assert job is not None and job.status == "failed" and job.error is not None
    assert job.error.code == "worker_restarted" and world.trainer.plans == []


async def test_a_job_cancelled_while_training_stops_at_its_next_step() -> None:
    world = World()
    await world.upload(canary_jsonl())
    message = await world.queue_job()
    original_beat = world.catalog.beat

    async def beat_then_cancel(*args, **kwargs):
        await cancel_job(world.catalog, "contoso", JOB, NOW)  # the owner, through the gateway
        return await original_beat(*args, **kwargs)

    world.catalog.beat = beat_then_cancel  # type: ignore[method-assign]
    await run_job(message, world.jobs)
    job = await world.catalog.get_job("contoso", JOB)
    assert job is not None and job.status == "cancelled" and job.fine_tuned_model is None
    # The first step's heartbeat found the job cancelled: no metrics event after the cancel's event.
    assert [e for e in world.catalog.events if e.type == "metrics"] == []
    newest = await world.catalog.list_events("contoso", JOB, limit=1)
    assert newest[0].message == "The job was cancelled"
    assert not world.catalog.models


async def test_a_results_file_is_no_training_file() -> None:
    world = World()
    await world.upload(canary_jsonl())
    record = world.catalog.files[("contoso", FILE)]
    assert record.status == "processed"
    world.catalog.files[("contoso", FILE)] = record.model_copy(update={"purpose": "fine-tune-results"})
    await run_job(await world.queue_job(), world.jobs)
    job = await world.catalog.get_job("contoso", JOB)
    assert job is not None and job.status == "failed" and job.error is not None
    assert job.error.code == "invalid_training_file" and world.trainer.plans == []


async def test_a_job_fails_cleanly_on_a_missing_file_or_a_broken_trainer() -> None:
    world = World()
    message = await world.queue_job()  # its training file was never uploaded
    await run_job(message, world.jobs)
    job = await world.catalog.get_job("contoso", JOB)
    assert job is not None and job.status == "failed" and job.error.code == "invalid_training_file"

    broken = World(ScriptedTrainer([1.0], fail=RuntimeError("boom")))
    await broken.upload(canary_jsonl())
    await run_job(await broken.queue_job(), broken.jobs)
    job = await broken.catalog.get_job("contoso", JOB)
    assert job is not None and job.status == "failed" and job.error.code == "training_failed"
    assert "boom" not in job.error.message


async def test_another_regions_messages_are_refused_and_nothing_is_stored() -> None:
    world = World()
    elsewhere = {**ENVELOPE, "region": "us-east"}
    with pytest.raises(WrongRegion):
        await handle_file_message(FileChunkUploaded(**elsewhere, file_id=FILE, sequence=0, data="eA=="), world.files)
    message = await world.queue_job()
    with pytest.raises(WrongRegion):
        await run_job(message.model_copy(update={"region": "us-east"}), world.jobs)
    assert not world.sealed.keys and not world.sealed.chunks_of and world.trainer.plans == []
    assert (await world.catalog.get_job("contoso", JOB)).status == "queued"
