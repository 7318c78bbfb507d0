"""Sealed chunks no record will own (a gateway that crashed mid-upload sent no ``aborted``) are
shredded once older than the bound; chunks of a file or model that has its record are never touched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.runtime.sealing import StaticKeyProvider
from services.tuning.orphans import OrphanPorts, sweep_orphans
from services.tuning_catalog.errors import ContentGone
from services.tuning_catalog.model import FileRecord, FineTunedModel
from services.tuning_catalog.vault import TuningVault
from tests.unit.tuning_fakes import InMemorySealedObjects, InMemoryTuningCatalog

HOUR = timedelta(hours=1)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def file_record(resource: str, file_id: str) -> FileRecord:
    return FileRecord(file_id=file_id, resource_id=resource, filename="f.jsonl", purpose="fine-tune", bytes=4,
                      created_at=datetime(2026, 12, 1, tzinfo=UTC))


class World:
    def __init__(self) -> None:
        self.clock = Clock()
        self.catalog = InMemoryTuningCatalog()
        self.sealed = InMemorySealedObjects()
        self.vault = TuningVault(self.sealed, StaticKeyProvider({"k": bytes(32)}), "k", self.clock)
        self.ports = OrphanPorts(catalog=self.catalog, sealed=self.sealed, vault=self.vault, clock=self.clock,
                                 orphan_after=HOUR)

    async def sealed_object(self, resource: str, object_id: str) -> None:
        await self.vault.put(resource, object_id, 0, b"data")


async def test_chunks_without_a_record_are_shredded_once_older_than_the_bound() -> None:
    world = World()
    await world.sealed_object("contoso", "file-crashed")  # the gateway died before writing the record
    world.clock.now += HOUR - timedelta(seconds=1)
    assert await sweep_orphans(world.ports) == 0  # an upload may still be under way: left alone
    assert await world.vault.read_all("contoso", "file-crashed") == b"data"
    world.clock.now += timedelta(seconds=2)
    assert await sweep_orphans(world.ports) == 1
    assert ("contoso", "file-crashed") not in world.sealed.chunks_of
    assert world.sealed.keys[("contoso", "file-crashed")].wrapped is None  # key destroyed (the document stays)
    with pytest.raises(ContentGone):  # a chunk of that upload delivered late is not sealed again
        await world.vault.put("contoso", "file-crashed", 1, b"late")
    assert await sweep_orphans(world.ports) == 0


async def test_files_and_models_with_records_are_kept_and_not_looked_at_again() -> None:
    world = World()
    await world.sealed_object("contoso", "file-ok")
    await world.catalog.insert_file(file_record("contoso", "file-ok"))
    await world.sealed_object("contoso", "file-deleted")  # deleted by its owner: hidden, shredding on its way
    await world.catalog.insert_file(file_record("contoso", "file-deleted"))
    await world.catalog.hide_file("contoso", "file-deleted")
    await world.sealed_object("contoso", "adapter/base.ft-1")
    await world.catalog.put_model(FineTunedModel(name="base.ft-1", resource_id="contoso", job_id="ftjob-1",
                                                 base_model="base", created_at=world.clock.now,
                                                 adapter_object="adapter/base.ft-1", adapter_bytes=4))
    await world.sealed_object("contoso", "adapter/base.ft-2")  # sealed, but the job never recorded its model
    world.clock.now += 2 * HOUR
    assert await sweep_orphans(world.ports) == 1
    assert ("contoso", "adapter/base.ft-2") not in world.sealed.chunks_of
    for kept in ("file-ok", "file-deleted", "adapter/base.ft-1"):
        assert await world.vault.read_all("contoso", kept) == b"data"
        assert ("contoso", kept) in world.sealed.owned  # the next rounds skip it


async def test_a_record_of_another_resource_does_not_save_an_orphan() -> None:
    world = World()
    await world.sealed_object("contoso", "file-x")
    await world.catalog.insert_file(file_record("fabrikam", "file-x"))  # same ID, another resource
    world.clock.now += 2 * HOUR
    assert await sweep_orphans(world.ports) == 1
    assert ("contoso", "file-x") not in world.sealed.chunks_of
