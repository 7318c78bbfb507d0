"""No code path reads one resource's files for another (issue 13), at the store: every query,
update and delete the fine-tuning store adapters send names the caller's resource.

The adapters run against a recording database (the same calls run against the real FerretDB in
tests/integration/test_tuning_store.py); every public method is called, and a method added without
a call here fails the exhaustiveness test. Broken variants of the adapters prove the check bites.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from services.tuning_catalog.mongo import MongoTuningCatalog
from services.tuning_catalog.mongo_vault import MongoSealedObjects
from tests.fixtures.tuning_scoping import ADAPTERS, NOT_QUERIES, StoreOp, violations

RESOURCE = "res-a"


class _Result:
    matched_count = 0


class RecordingCursor:
    def sort(self, *_: Any, **__: Any) -> RecordingCursor:
        return self

    def limit(self, *_: Any) -> RecordingCursor:
        return self

    async def to_list(self, *_: Any) -> list[dict[str, Any]]:
        return []

    def __aiter__(self) -> RecordingCursor:
        return self

    async def __anext__(self) -> dict[str, Any]:
        raise StopAsyncIteration


class RecordingCollection:
    """Records what pymongo's AsyncCollection would have been asked; finds nothing."""

    def __init__(self, name: str, log: list[StoreOp]) -> None:
        self.name, self.log = name, log

    def _record(self, op: str, filter: dict[str, Any], replacement: dict[str, Any] | None = None,
                projection: dict[str, Any] | None = None) -> None:
        self.log.append(StoreOp(self.name, op, filter, replacement, projection))

    async def insert_one(self, document: dict[str, Any], **_: Any) -> None:
        self._record("insert_one", document)

    async def find_one(self, filter: dict[str, Any], projection: dict[str, Any] | None = None, **_: Any) -> None:
        self._record("find_one", filter, projection=projection)

    def find(self, filter: dict[str, Any], projection: dict[str, Any] | None = None, **_: Any) -> RecordingCursor:
        self._record("find", filter, projection=projection)
        return RecordingCursor()

    async def count_documents(self, filter: dict[str, Any], **_: Any) -> int:
        self._record("count_documents", filter)
        return 0

    async def update_one(self, filter: dict[str, Any], update: dict[str, Any], **_: Any) -> _Result:
        self._record("update_one", filter)
        return _Result()

    async def replace_one(self, filter: dict[str, Any], replacement: dict[str, Any], **_: Any) -> _Result:
        self._record("replace_one", filter, replacement)
        return _Result()

    async def find_one_and_update(self, filter: dict[str, Any], update: dict[str, Any], **_: Any) -> None:
        self._record("find_one_and_update", filter)

    async def delete_one(self, filter: dict[str, Any], **_: Any) -> None:
        self._record("delete_one", filter)

    async def delete_many(self, filter: dict[str, Any], **_: Any) -> None:
        self._record("delete_many", filter)

    async def create_index(self, *_: Any, **__: Any) -> None:
        pass


class RecordingDatabase:
    def __init__(self) -> None:
        self.log: list[StoreOp] = []

    def __getitem__(self, name: str) -> RecordingCollection:
        return RecordingCollection(name, self.log)


def public_methods(adapter: type) -> set[str]:
    return {name for name, _ in inspect.getmembers(adapter, inspect.isfunction) if not name.startswith("_")}


async def scoping_problems(adapter: type, calls: dict[str, Any]) -> list[str]:
    database = RecordingDatabase()
    store = adapter(database)
    problems = []
    for method, call in calls.items():
        database.log.clear()
        await call(store, RESOURCE)
        problems += violations(method, list(database.log), RESOURCE)
    return problems


@pytest.mark.parametrize("adapter", list(ADAPTERS), ids=lambda a: a.__name__)
async def test_every_store_operation_names_the_callers_resource(adapter: type) -> None:
    assert await scoping_problems(adapter, ADAPTERS[adapter]) == []


@pytest.mark.parametrize("adapter", list(ADAPTERS), ids=lambda a: a.__name__)
def test_every_public_method_of_the_store_adapters_is_checked(adapter: type) -> None:
    assert public_methods(adapter) - NOT_QUERIES == set(ADAPTERS[adapter])


# Broken variants: what the check must catch.

class ReadsByIdAlone(MongoTuningCatalog):
    async def get_file(self, resource_id: str, file_id: str) -> Any:
        return await self._files.find_one({"_id": f"{resource_id}/{file_id}"})


class ListsEveryResource(MongoTuningCatalog):
    async def list_files(self, resource_id: str, *, purpose: str | None = None, limit: int = 10000) -> Any:
        return await self._files.find({"hidden": False}).to_list()


class ReadsAnotherResource(MongoSealedObjects):
    def chunks(self, resource_id: str, object_id: str) -> Any:
        return self._chunks.find({"resource_id": "res-b", "object_id": object_id})


class SweepReadsKeyMaterial(MongoSealedObjects):
    async def unowned_keys_before(self, cutoff: Any, *, limit: int) -> list[tuple[str, str]]:
        return [(d["resource_id"], d["object_id"]) for d in await self._keys.find({"destroyed_at": None}).to_list()]


class ForgetsTheResourceOnUpsert(MongoTuningCatalog):
    async def put_model(self, model: Any) -> None:
        await self._models.replace_one({"_id": f"{model.resource_id}/{model.name}"}, model.model_dump(), upsert=True)


@pytest.mark.parametrize(("variant", "method"), [
    (ReadsByIdAlone, "get_file"), (ListsEveryResource, "list_files"), (ReadsAnotherResource, "chunks"),
    (SweepReadsKeyMaterial, "unowned_keys_before"), (ForgetsTheResourceOnUpsert, "put_model"),
], ids=lambda v: getattr(v, "__name__", v))
async def test_a_broken_adapter_is_caught(variant: type, method: str) -> None:
    base = next(a for a in ADAPTERS if issubclass(variant, a))
    problems = await scoping_problems(variant, {method: ADAPTERS[base][method]})
    assert problems and all(p.startswith(f"{method}:") for p in problems), problems
