"""No code path reads one resource's files for another (issue 13), by construction: only the
fine-tuning store adapters touch the fine-tuning collections (and every operation they send names
the resource: tests/unit/test_tuning_query_scoping.py), only composition roots build them, the
gateway has no way to content, and only tuning holds the files key.

Read from the source (ast), not by importing it. A broken module added by the last test shows
each rule bites.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("services", "deploy", "contracts")
STORE_ADAPTERS = {"services.tuning_catalog.mongo", "services.tuning_catalog.mongo_vault"}
COMPOSITION_ROOTS = {"services.tuning.bootstrap", "services.gateway.tuning_edge", "services.inference.bootstrap"}
CONTENT_MODULES = {"services.tuning_catalog.vault", "services.tuning_catalog.mongo_vault"}
NO_CONTENT_PACKAGES = ("services.gateway",)  # holds the catalogue (metadata) and never a key or a chunk
FILES_KEY_NAMES = {"files_key", "files_key_id", "files_provider"}
FILES_KEY_PACKAGES = ("services.tuning",)  # inference holds the adapters key only: it opens no training file


def module_name(root: Path, path: Path) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")


def sources(root: Path) -> Iterator[tuple[str, ast.Module]]:
    for top in SCANNED:
        for path in sorted((root / top).rglob("*.py")):
            yield module_name(root, path), ast.parse(path.read_text(), str(path))


def imported(module: str, tree: ast.Module) -> set[str]:
    """Every module an import names (``from a import b`` counts as a and a.b: b may be a module)."""
    names: set[str] = set()
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def collections_of(tree: ast.Module) -> set[str]:
    """Collection names an adapter opens: ``database["<name>"]``."""
    return {node.slice.value for node in ast.walk(tree)
            if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str) and isinstance(node.value, ast.Name) and node.value.id == "database"}


def strings(tree: ast.Module) -> set[str]:
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def identifiers(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.keyword) and node.arg:
            found.add(node.arg)
    return found


def in_package(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def architecture_violations(modules: dict[str, ast.Module]) -> list[str]:
    collections = set().union(*(collections_of(modules[m]) for m in STORE_ADAPTERS if m in modules))
    problems = [] if collections else ["no fine-tuning collection found in the store adapters"]
    for module, tree in modules.items():
        named = strings(tree) & collections
        if named and module not in STORE_ADAPTERS:
            problems.append(f"{module} names the fine-tuning collection(s) {sorted(named)}")
        imports = imported(module, tree)
        if imports & STORE_ADAPTERS and module not in COMPOSITION_ROOTS | STORE_ADAPTERS:
            problems.append(f"{module} imports a fine-tuning store adapter; only composition roots may")
        if in_package(module, NO_CONTENT_PACKAGES) and imports & CONTENT_MODULES:
            problems.append(f"{module} imports the sealed content of fine-tuning")
        keys = identifiers(tree) & FILES_KEY_NAMES
        if keys and not in_package(module, FILES_KEY_PACKAGES):
            problems.append(f"{module} uses the files key ({sorted(keys)})")
    return problems


@pytest.fixture(scope="module")
def modules() -> dict[str, ast.Module]:
    return dict(sources(ROOT))


def test_only_the_store_adapters_touch_the_fine_tuning_collections(modules: dict[str, ast.Module]) -> None:
    assert architecture_violations(modules) == []


def test_the_rules_see_the_collections_they_guard(modules: dict[str, ast.Module]) -> None:
    assert {"tuning_keys", "tuning_chunks"} <= collections_of(modules["services.tuning_catalog.mongo_vault"])
    assert {"tuning_files", "tuning_jobs", "tuning_models"} <= collections_of(modules["services.tuning_catalog.mongo"])


BROKEN = {
    "services.gateway.peek": ('async def peek(client):\n    return client["residency_tuning"]["tuning_chunks"]\n',
                              "names the fine-tuning collection"),
    "services.retrieval.shortcut": ("from services.tuning_catalog.mongo import MongoTuningCatalog\n",
                                    "imports a fine-tuning store adapter"),
    "services.gateway.content": ("from services.tuning_catalog import vault\n", "imports the sealed content"),
    "services.inference.files": ("def opener(settings):\n    return settings.files_provider()\n",
                                 "uses the files key"),
}


@pytest.mark.parametrize("module", list(BROKEN))
def test_a_broken_module_is_caught(modules: dict[str, ast.Module], module: str) -> None:
    source, expected = BROKEN[module]
    problems = architecture_violations({**modules, module: ast.parse(source)})
    assert len(problems) == 1 and expected in problems[0], problems
