"""Files, jobs and adapters stay in their region (issue 13), on the real broker and store: the
tuning worker of another region never sees them.

Two regions, each with its topics and its store (a database of its own here). Region A's gateway
side writes a file's and a job's record and publishes the file's chunks, its completion, the
training job and a model deletion on A's topics; only region B's tuning worker runs. B's own
upload, published afterwards, is processed (the worker is live and consuming), while nothing of
A's reaches B's store, B's consumer groups read only B's topics, and A's records stay untouched.
A message of region A put on B's topic by hand (our publishers refuse to) is dead-lettered.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import BaseModel
from pymongo import AsyncMongoClient

from contracts import tuning_files, tuning_jobs, tuning_model_deletions
from contracts.base import topic_name, utc_now
from contracts.dead_letters import DeadLetter
from contracts.tuning_files import FileChunkUploaded, FileUploadCompleted
from contracts.tuning_jobs import Hyperparameters as HyperparametersMessage
from contracts.tuning_jobs import TrainFineTuningJob
from contracts.tuning_model_deletions import DeleteFineTunedModel
from services.inference.model_files import CHAT_MODEL
from services.runtime.topics import TopicPolicy, ensure_topics
from services.tuning.app import create_app
from services.tuning.settings import TuningSettings
from services.tuning_catalog.model import FileRecord, Hyperparameters, JobRecord, fine_tuned_model_name
from services.tuning_catalog.mongo import MongoTuningCatalog
from tests.conftest import Infra, unique_region
from tests.fixtures.fine_tuning import canary_jsonl
from tests.integration.kafka_tools import read_topic

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


def key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def envelope(region: str, resource: str) -> dict[str, Any]:
    return {"request_id": uuid.uuid4().hex, "resource_id": resource, "region": region, "deployment": "files",
            "created_at": utc_now(), "reply_to": "gw-test"}


def upload_messages(region: str, resource: str, file_id: str, content: bytes) -> list[BaseModel]:
    pieces = [content[i:i + 512] for i in range(0, len(content), 512)]
    chunks: list[BaseModel] = [
        FileChunkUploaded(**envelope(region, resource), file_id=file_id, sequence=n,
                          data=base64.b64encode(piece).decode()) for n, piece in enumerate(pieces)]
    return [*chunks, FileUploadCompleted(**envelope(region, resource), file_id=file_id, chunks=len(pieces),
                                         bytes=len(content), sha256=hashlib.sha256(content).hexdigest(),
                                         purpose="fine-tune")]


async def publish(bootstrap: str, topic: str, messages: list[BaseModel], key_field: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for message in messages:
            await producer.send_and_wait(topic, message.model_dump_json().encode(),
                                         key=str(getattr(message, key_field)).encode())
    finally:
        await producer.stop()


def file_record(resource: str, file_id: str, size: int) -> FileRecord:
    return FileRecord(file_id=file_id, resource_id=resource, filename="train.jsonl", purpose="fine-tune",
                      bytes=size, created_at=utc_now())


async def test_another_regions_worker_never_sees_a_regions_files_jobs_or_models(infra: Infra) -> None:
    home, other = unique_region("ta"), unique_region("tb")
    for region in (home, other):
        await ensure_topics(infra.kafka, region, TopicPolicy(partitions=2))
    mongo: AsyncMongoClient = AsyncMongoClient(infra.mongo, tz_aware=True)
    home_db, other_db = mongo[f"tuning_{home}"], mongo[f"tuning_{other}"]
    home_catalog, other_catalog = MongoTuningCatalog(home_db), MongoTuningCatalog(other_db)
    content = canary_jsonl()
    home_file, other_file = "file-" + uuid.uuid4().hex[:24], "file-" + uuid.uuid4().hex[:24]
    job_id = "ftjob-" + uuid.uuid4().hex[:24]
    model = fine_tuned_model_name(CHAT_MODEL, job_id)
    settings = TuningSettings(region=other, kafka_bootstrap=infra.kafka, mongo_uri=infra.mongo,
                              database=f"tuning_{other}", files_key=key(), adapters_key=key(),
                              orphan_sweep_interval_s=3600)
    app = create_app(settings)
    await app.start()
    try:
        # Region A: what its gateway writes and publishes for a file, a job on it, and a model deletion.
        await home_catalog.insert_file(file_record("contoso", home_file, len(content)))
        h = Hyperparameters(n_epochs=1, batch_size=1, learning_rate_multiplier=1.0)
        await home_catalog.insert_job(JobRecord(
            job_id=job_id, resource_id="contoso", model=CHAT_MODEL, training_file=home_file, validation_file=None,
            hyperparameters=h, seed=1, suffix=None, fine_tuned_model_name=model, created_at=utc_now()))
        home_messages = upload_messages(home, "contoso", home_file, content)
        await publish(infra.kafka, topic_name(tuning_files.TOPIC, home), home_messages, "file_id")
        await publish(infra.kafka, topic_name(tuning_jobs.TOPIC, home), [TrainFineTuningJob(
            **envelope(home, "contoso"), job_id=job_id, model=CHAT_MODEL, training_file=home_file, seed=1,
            hyperparameters=HyperparametersMessage(**h.model_dump()), fine_tuned_model=model)], "resource_id")
        await publish(infra.kafka, topic_name(tuning_model_deletions.TOPIC, home),
                      [DeleteFineTunedModel(**envelope(home, "contoso"), model=model)], "resource_id")

        # Region B's own upload, published after A's: the worker is live and consumes its region.
        await other_catalog.insert_file(file_record("fabrikam", other_file, len(content)))
        await publish(infra.kafka, topic_name(tuning_files.TOPIC, other),
                      upload_messages(other, "fabrikam", other_file, content), "file_id")
        async with asyncio.timeout(30):
            while (record := await other_catalog.get_file("fabrikam", other_file)) is None or \
                    record.status == "uploaded":
                await asyncio.sleep(0.1)
        assert record.status == "processed", record.status_details

        # A message of region A on B's topic, by hand: dead-lettered, not stored.
        await publish(infra.kafka, topic_name(tuning_files.TOPIC, other), home_messages[:1], "file_id")
        letters = await read_topic(infra.kafka, topic_name(tuning_files.TOPIC, other) + ".dlq",
                                   until=lambda r: len(r) >= 1, timeout_s=30)
        letter = DeadLetter.from_headers({k: v.decode() for k, v in letters[0].headers})
        assert letter.error_type == "WrongRegion" and len(letters) == 1
    finally:
        await app.stop()

    try:
        # Nothing of region A in B's store; only B's own file there.
        for name in await other_db.list_collection_names():
            assert await other_db[name].count_documents({"resource_id": {"$ne": "fabrikam"}}) == 0, name
        assert {d["object_id"] for d in await other_db["tuning_keys"].find({}).to_list()} == {other_file}
        # B's consumer groups committed offsets on B's topics only (the files group on B's files topic at least).
        admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka)
        await admin.start()
        try:
            groups = [g for g, _ in await admin.list_consumer_groups() if g.startswith(f"{other}.tuning")]
            topics = {tp.topic for g in groups for tp in await admin.list_consumer_group_offsets(g)}
        finally:
            await admin.close()
        assert f"{other}.tuning-files" in groups and topics, (groups, topics)
        assert all(t.startswith(f"{other}.") for t in topics), topics
        # A's records are as its gateway left them: no worker of another region processed, trained or shredded.
        home_record = await home_catalog.get_file("contoso", home_file)
        assert home_record is not None and home_record.status == "uploaded"
        home_job = await home_catalog.get_job("contoso", job_id)
        assert home_job is not None and home_job.status == "queued"
        assert await home_db["tuning_keys"].count_documents({}) == 0
        assert await home_db["tuning_chunks"].count_documents({}) == 0
    finally:
        await mongo.drop_database(f"tuning_{home}")
        await mongo.drop_database(f"tuning_{other}")
        await mongo.close()
