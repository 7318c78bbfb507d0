"""The fine-tuning store's two rules that a call-by-call check can miss, read from the source (ast).

1. Every query, update and delete the store adapters (services/tuning_catalog/mongo.py and
   mongo_vault.py) send filters on ``resource_id`` *on every path*: a dict literal with that key,
   or a name every assignment of which is such a literal. A run-time recording
   (tests/unit/test_tuning_query_scoping.py) sees one path per method; a filter
   that drops the resource on some branch only is caught here. The orphan sweep's listing, which
   reads IDs only, is the one named exception.
2. Every method of the two ports (services/tuning_catalog/ports.py) takes the resource first
   (``resource_id``, or a record that carries one), so no caller can ask without naming whose
   data it wants.

Which modules may touch the collections or import the adapters is
tests/unit/test_tuning_architecture.py's. The last tests run each rule on a
deliberately broken source and show that it is caught.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from pathlib import Path

from services.tuning_catalog import model as records
from services.tuning_catalog.ports import SealedObjects, TuningCatalog

ROOT = Path(__file__).resolve().parents[2]
STORE_ADAPTERS = frozenset({"services/tuning_catalog/mongo.py", "services/tuning_catalog/mongo_vault.py"})
QUERY_METHODS = frozenset({"find", "find_one", "find_one_and_update", "find_one_and_delete", "find_one_and_replace",
                           "update_one", "update_many", "replace_one", "delete_one", "delete_many",
                           "count_documents", "distinct", "aggregate", "watch"})
# Adapter methods allowed to filter across resources, each with its reason.
UNSCOPED_METHODS = {
    "unowned_keys_before": "the orphan sweep lists key documents by age (IDs only, never key material); "
                           "each object it finds is then handled by resource",
}
SCOPED_FIELD = "resource_id"


def adapter_sources() -> Iterator[tuple[str, ast.Module]]:
    for relative in sorted(STORE_ADAPTERS):
        yield relative, ast.parse((ROOT / relative).read_text(), filename=relative)


def _names_resource(node: ast.expr) -> bool:
    return isinstance(node, ast.Dict) and any(
        isinstance(key, ast.Constant) and key.value == SCOPED_FIELD for key in node.keys)


def _assigned_dicts(function: ast.AST, name: str) -> list[ast.expr]:
    """What ``name`` is assigned in ``function`` (plain or annotated assignments)."""
    values: list[ast.expr] = []
    for node in ast.walk(function):
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(target, ast.Name) and target.id == name for target in targets):
            values.append(value)
    return values


def _is_collection_call(node: ast.AST) -> bool:
    """``self._<collection>.<query method>(...)``: how the adapters reach their collections."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in QUERY_METHODS
            and isinstance(node.func.value, ast.Attribute) and isinstance(node.func.value.value, ast.Name)
            and node.func.value.value.id == "self")


def unscoped_query_problems(path: str, tree: ast.Module) -> list[str]:
    problems = []
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for function in functions:
        if function.name in UNSCOPED_METHODS:
            continue
        for call in filter(_is_collection_call, ast.walk(function)):
            assert isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            where = f"{path}:{call.lineno} {function.name}: {call.func.attr}"
            if not call.args:
                problems.append(f"{where} has no filter")
                continue
            query = call.args[0]
            if isinstance(query, ast.Name):
                assigned = _assigned_dicts(function, query.id)
                if not assigned or not all(_names_resource(value) for value in assigned):
                    problems.append(f"{where}: the filter {query.id!r} does not always name {SCOPED_FIELD}")
            elif not _names_resource(query):
                problems.append(f"{where}: the filter does not name {SCOPED_FIELD}")
    return problems


def _takes_the_resource_first(method: object) -> bool:
    parameters = list(inspect.signature(method).parameters.values())[1:]  # type: ignore[arg-type]
    if not parameters:
        return False
    first = parameters[0]
    if first.name == SCOPED_FIELD:
        return True
    record = getattr(records, str(first.annotation), None)
    return isinstance(record, type) and SCOPED_FIELD in getattr(record, "model_fields", {})


def port_problems(port: type) -> list[str]:
    return [f"{port.__name__}.{name} does not take the resource first" for name, method in vars(port).items()
            if inspect.isfunction(method) and not name.startswith("_") and name not in UNSCOPED_METHODS
            and not _takes_the_resource_first(method)]


def test_every_query_of_the_store_adapters_filters_on_the_resource() -> None:
    adapters = list(adapter_sources())
    calls = [c for _, tree in adapters for c in ast.walk(tree) if _is_collection_call(c)]
    assert len(calls) >= 20, "the adapters' collection calls were not found: the rule would check nothing"
    assert [p for path, tree in adapters for p in unscoped_query_problems(path, tree)] == []


def test_every_port_method_takes_the_resource_first() -> None:
    assert port_problems(TuningCatalog) + port_problems(SealedObjects) == []


# The rules catch what they are for: each runs on a deliberately broken source.

def test_a_query_without_the_resource_is_caught() -> None:
    leaky = ast.parse(
        "class Leaky:\n"
        "    async def list_jobs(self, resource_id):\n"
        "        return await self._jobs.find({'status': 'queued'}).to_list()\n"
        "    async def delete_chunks(self, resource_id, object_id):\n"
        "        query = {'object_id': object_id}\n"
        "        await self._chunks.delete_many(query)\n"
        "    async def sometimes(self, resource_id, everyone):\n"
        "        query = {'resource_id': resource_id}\n"
        "        if everyone:\n"
        "            query = {}\n"
        "        await self._files.count_documents(query)\n"
        "    async def scoped(self, resource_id):\n"
        "        query: dict = {'resource_id': resource_id}\n"
        "        await self._files.update_one(query, {'$set': {'x': 1}})\n")
    assert [p.split(": ", 1)[0] for p in unscoped_query_problems("m.py", leaky)] == [
        "m.py:3 list_jobs", "m.py:6 delete_chunks", "m.py:11 sometimes"]


def test_a_port_method_that_does_not_name_the_resource_is_caught() -> None:
    class LeakyPort(TuningCatalog):
        async def all_files(self, *, limit: int) -> list[records.FileRecord]: ...

        async def file_by_id(self, file_id: str) -> records.FileRecord | None: ...

    assert sorted(port_problems(LeakyPort)) == ["LeakyPort.all_files does not take the resource first",
                                                "LeakyPort.file_by_id does not take the resource first"]
