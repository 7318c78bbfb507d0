"""The ingestion pipeline: walk, chunk, embed new chunks through the platform's API, write, prune."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bson.binary import Binary, BinaryVectorDtype

from services.retrieval.ingest.chunking import SUFFIXES, Chunk, chunks_of


@dataclass(frozen=True)
class Ingestion:
    """Where chunks are embedded (the platform's API) and written (the customer's collection)."""

    gateway: str
    api_key: str = field(repr=False)
    deployment: str
    mongo_uri: str = field(repr=False)
    database: str
    collection: str
    api_version: str = "2024-10-21"
    vector_field: str = "vector"
    url_prefix: str | None = None  # a chunk's url: prefix + its file path
    batch_size: int = 64
    vector_format: str = "binary"  # BSON vector (float32, as Atlas stores them) or "array" of doubles
    max_chars: int = 800
    overlap: int = 100


@dataclass
class IngestReport:
    files: int = 0
    chunks: int = 0
    embedded: int = 0
    unchanged: int = 0
    removed: int = 0


def chunk_id(chunk: Chunk) -> str:
    """Content-addressed: the same chunk of the same file always has the same ID."""
    return hashlib.sha256("\0".join((chunk.filepath, chunk.title, chunk.content)).encode()).hexdigest()[:32]


def files_under(paths: Iterable[str | Path]) -> list[tuple[Path, Path]]:
    """(file, the root its path is relative to), for every supported file, in a stable order."""
    found: list[tuple[Path, Path]] = []
    for given in map(Path, paths):
        if given.is_dir():
            found += [(f, given) for f in sorted(given.rglob("*")) if f.is_file() and f.suffix.lower() in SUFFIXES]
        elif given.suffix.lower() in SUFFIXES:
            found.append((given, given.parent))
    return found


def _documents(chunks: list[Chunk], vectors: list[list[float]], config: Ingestion) -> list[dict[str, Any]]:
    def stored(vector: list[float]) -> Any:
        if config.vector_format == "array":
            return vector
        return Binary.from_vector(vector, BinaryVectorDtype.FLOAT32)

    return [{"_id": chunk_id(c), "title": c.title, "content": c.content, "filepath": c.filepath,
             "url": f"{config.url_prefix}{c.filepath}" if config.url_prefix else None,
             config.vector_field: stored(v)}
            for c, v in zip(chunks, vectors, strict=True)]


def ingest(paths: Iterable[str | Path], config: Ingestion, *,
           progress: Callable[[str], None] = print) -> IngestReport:
    from openai import AzureOpenAI
    from pymongo import MongoClient

    report = IngestReport()
    files = files_under(paths)
    api = AzureOpenAI(azure_endpoint=config.gateway, api_key=config.api_key, api_version=config.api_version)
    client: MongoClient[dict[str, Any]] = MongoClient(config.mongo_uri)
    with client:
        collection = client[config.database][config.collection]
        for number, (path, root) in enumerate(files, start=1):
            chunks = chunks_of(path, root, max_chars=config.max_chars, overlap=config.overlap)
            relative = path.relative_to(root).as_posix()
            wanted = {chunk_id(c): c for c in chunks}
            stored = {d["_id"] for d in collection.find({"filepath": relative}, {"_id": 1})}
            new = [c for key, c in wanted.items() if key not in stored]
            for start in range(0, len(new), config.batch_size):
                batch = new[start:start + config.batch_size]
                answer = api.embeddings.create(model=config.deployment, input=[c.content for c in batch])
                collection.insert_many(_documents(batch, [d.embedding for d in answer.data], config), ordered=False)
            stale = stored - wanted.keys()
            if stale:
                collection.delete_many({"_id": {"$in": sorted(stale)}})
            report.files += 1
            report.chunks += len(wanted)
            report.embedded += len(new)
            report.unchanged += len(wanted) - len(new)
            report.removed += len(stale)
            progress(f"[ingest] {number}/{len(files)} {relative}: {len(wanted)} chunks, {len(new)} embedded, "
                     f"{len(stale)} removed")
    api.close()
    return report
