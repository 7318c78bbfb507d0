"""The fine-tuning store adapters on the real FerretDB: every command they send names the caller's
resource (pymongo's command monitoring records the wire commands), another resource's documents
under the very same IDs are neither found nor changed, the orphan sweep's queries work there, and a
customer-managed key's layer is stored with the key."""

from __future__ import annotations

import base64
import os
import uuid
from datetime import timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.monitoring import CommandFailedEvent, CommandListener, CommandStartedEvent, CommandSucceededEvent

from services.runtime.customer_keys import LocalFileKeyProvider
from services.runtime.sealing import StaticKeyProvider
from services.tuning.orphans import OrphanPorts, sweep_orphans
from services.tuning_catalog.errors import ContentGone
from services.tuning_catalog.mongo import MongoTuningCatalog
from services.tuning_catalog.mongo_vault import MongoSealedObjects
from services.tuning_catalog.ports import SealedChunk, StoredKey
from services.tuning_catalog.vault import TuningVault
from tests.conftest import Infra
from tests.fixtures.tuning_scoping import (
    ADAPTERS,
    NOW,
    StoreOp,
    checkpoint,
    event,
    file_record,
    job_record,
    model,
    violations,
)

pytestmark = pytest.mark.mongo
COLLECTIONS = ("tuning_files", "tuning_jobs", "tuning_job_events", "tuning_checkpoints", "tuning_models",
               "tuning_keys", "tuning_chunks")


class Commands(CommandListener):
    """The store operations of the wire commands, in StoreOp terms."""

    def __init__(self) -> None:
        self.ops: list[StoreOp] = []

    def started(self, event: CommandStartedEvent) -> None:
        self.ops += wire_ops(event.command_name, dict(event.command))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass


def wire_ops(name: str, command: dict[str, Any]) -> list[StoreOp]:
    collection = command.get(name)
    if name == "insert":
        return [StoreOp(collection, "insert_one", dict(d)) for d in command["documents"]]
    if name == "find":
        return [StoreOp(collection, "find", dict(command.get("filter", {})), projection=command.get("projection"))]
    if name == "update":
        return [StoreOp(collection, "update_one", dict(u["q"]), replacement=None if any(
            k.startswith("$") for k in u["u"]) else dict(u["u"])) for u in command["updates"]]
    if name == "delete":
        return [StoreOp(collection, "delete_one", dict(d["q"])) for d in command["deletes"]]
    if name == "findAndModify":
        return [StoreOp(collection, "find_one_and_update", dict(command["query"]))]
    if name == "aggregate":
        return [StoreOp(collection, "aggregate", dict(command["pipeline"][0].get("$match", {})))]
    if name == "count":
        return [StoreOp(collection, "count_documents", dict(command.get("query", {})))]
    return []  # getMore, createIndexes, endSessions, hello: no document filter


@pytest.fixture
async def store(infra: Infra):
    listener = Commands()
    client: AsyncMongoClient = AsyncMongoClient(infra.mongo, tz_aware=True, event_listeners=[listener])
    name = f"tuning_store_{uuid.uuid4().hex[:10]}"
    try:
        yield client[name], listener
    finally:
        await client.drop_database(name)
        await client.close()


async def documents_of(database: Any, resource: str) -> dict[str, list[dict[str, Any]]]:
    return {c: await database[c].find({"resource_id": resource}).sort("_id", 1).to_list() for c in COLLECTIONS}


async def test_every_command_names_the_resource_and_another_resources_documents_stay_apart(store) -> None:
    database, listener = store
    catalog, sealed = MongoTuningCatalog(database), MongoSealedObjects(database)
    await catalog.create_indexes()
    await sealed.create_indexes()
    # Another resource owns documents under the very same IDs.
    await catalog.insert_file(file_record("res-b"))
    await catalog.insert_job(job_record("res-b"))
    await catalog.add_event(event("res-b"))
    await catalog.add_checkpoint(checkpoint("res-b"))
    await catalog.put_model(model("res-b"))
    await sealed.insert_key("res-b", "file-1", StoredKey("files-1", b"b" * 60), NOW)
    await sealed.put_chunk("res-b", "file-1", SealedChunk(0, b"n" * 12, b"b's ciphertext"))
    before = await documents_of(database, "res-b")
    assert all(before.values())

    problems: list[str] = []
    for adapter, store_of in ((MongoTuningCatalog, catalog), (MongoSealedObjects, sealed)):
        for method, call in ADAPTERS[adapter].items():
            listener.ops.clear()
            found = await call(store_of, "res-a")
            problems += violations(method, [op for op in listener.ops if op.collection in COLLECTIONS], "res-a")
            for record in found if isinstance(found, list) else [found]:  # reads find res-a's only
                assert getattr(record, "resource_id", "res-a") == "res-a", (method, record)
    assert problems == []
    assert await documents_of(database, "res-b") == before  # nothing of res-b was changed or removed


def b64_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


async def test_the_orphan_sweep_on_the_real_store(store) -> None:
    database, _ = store
    clock_now = [NOW]
    catalog, sealed = MongoTuningCatalog(database), MongoSealedObjects(database)
    vault = TuningVault(sealed, StaticKeyProvider({"k": os.urandom(32)}), "k", lambda: clock_now[0])
    ports = OrphanPorts(catalog=catalog, sealed=sealed, vault=vault, clock=lambda: clock_now[0],
                        orphan_after=timedelta(hours=1))
    await vault.put("res-a", "file-1", 0, b"kept")
    await catalog.insert_file(file_record("res-a", "file-1"))
    await vault.put("res-a", "file-crashed", 0, b"orphan")  # no record: the gateway died mid-upload
    await vault.put("res-b", "file-1", 0, b"orphan too")  # res-a's record does not own res-b's object
    clock_now[0] += timedelta(minutes=59)
    assert await sweep_orphans(ports) == 0
    clock_now[0] += timedelta(minutes=2)
    assert await sweep_orphans(ports) == 2
    assert await vault.read_all("res-a", "file-1") == b"kept"
    for resource, obj in (("res-a", "file-crashed"), ("res-b", "file-1")):
        assert await database["tuning_chunks"].count_documents({"resource_id": resource, "object_id": obj}) == 0
        with pytest.raises(ContentGone):
            await vault.read_all(resource, obj)
    owned = await database["tuning_keys"].find_one({"_id": "res-a/file-1"})
    assert owned["owned"] is True
    assert await sweep_orphans(ports) == 0 and await sealed.unowned_keys_before(clock_now[0], limit=10) == []


async def test_a_customer_managed_layer_is_stored_with_the_key(store, tmp_path) -> None:
    database, _ = store
    (tmp_path / "contoso-cmk.key").write_text(b64_key())
    sealed = MongoSealedObjects(database)
    vault = TuningVault(sealed, StaticKeyProvider({"k": os.urandom(32)}), "k", lambda: NOW,
                        customer=LocalFileKeyProvider(tmp_path), customer_keys={"contoso": "contoso-cmk"})
    await vault.put("contoso", "file-1", 0, b"data")
    stored = await sealed.get_key("contoso", "file-1")
    assert stored is not None and stored.customer_key_id == "contoso-cmk"
    assert await vault.read_all("contoso", "file-1") == b"data"
    (tmp_path / "contoso-cmk.key").unlink()
    with pytest.raises(ContentGone):
        await vault.read_all("contoso", "file-1")
