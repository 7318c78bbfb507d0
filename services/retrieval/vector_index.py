"""In-memory vector indexes over customers' collections: document IDs and vectors only, never text.

FerretDB v1 has no vector search and real MongoDB has ``$vectorSearch`` only on Atlas, so
retrieval keeps, per (resource, connection, database, collection, vector field), the collection's
vectors in memory: exact search (one matrix product) up to ``exact_limit`` vectors, an IVF index
above it (k-means cells; the query visits the ``probes`` nearest cells). Nothing is written to
disk. Bounds: ``max_index_bytes`` per index (a larger collection is indexed up to the bound and
says so) and ``max_total_bytes`` over all (least recently used indexes are evicted first); an
index unused for ``ttl_s`` is dropped, and one whose connection was deleted or re-registered is
never found again (the key holds the connection's registration time).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

log = logging.getLogger("residency.retrieval.vectors")


@dataclass(frozen=True)
class IndexKey:
    resource_id: str
    connection: str
    registered_at: float
    database: str
    collection: str
    vector_field: str


@dataclass(frozen=True)
class CollectionMarker:
    """What changes when the collection does (no change streams on FerretDB): count and newest ID."""

    count: int
    newest_id: str


@dataclass
class VectorIndex:
    ids: list[Any]
    matrix: np.ndarray  # rows are unit vectors (float32)
    marker: CollectionMarker
    complete: bool  # False when the byte bound cut the collection short
    built_s: float
    centroids: np.ndarray | None = None
    cells: list[np.ndarray] = field(default_factory=list)
    last_used: float = field(default_factory=time.monotonic)
    checked_at: float = field(default_factory=time.monotonic)

    @property
    def nbytes(self) -> int:
        extra = self.centroids.nbytes if self.centroids is not None else 0
        return int(self.matrix.nbytes + extra + sum(c.nbytes for c in self.cells) + 64 * len(self.ids))

    def search(self, query: np.ndarray, k: int, probes: int) -> list[tuple[Any, float]]:
        """The ``k`` nearest documents by cosine similarity, best first."""
        if not self.ids:
            return []
        q = _unit(query.astype(np.float32))
        if q.shape[0] != self.matrix.shape[1]:
            raise ValueError(f"query has {q.shape[0]} dimensions, the index {self.matrix.shape[1]}")
        if self.centroids is None:
            rows = np.arange(len(self.ids))
        else:
            nearest = np.argsort(self.centroids @ q)[::-1][:probes]
            rows = np.concatenate([self.cells[c] for c in nearest])
        scores = self.matrix[rows] @ q
        top = np.argpartition(-scores, min(k, len(rows)) - 1)[:k] if len(rows) > k else np.arange(len(rows))
        order = top[np.argsort(-scores[top])]
        return [(self.ids[rows[i]], float(scores[i])) for i in order]


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def build_index(ids: list[Any], vectors: np.ndarray, marker: CollectionMarker, *, complete: bool,
                exact_limit: int, seed: int = 0) -> VectorIndex:
    """Exact up to ``exact_limit`` rows; above it an IVF of about sqrt(n) cells (k-means, 8 rounds)."""
    began = time.monotonic()
    matrix = _unit(vectors.astype(np.float32))
    index = VectorIndex(ids=ids, matrix=matrix, marker=marker, complete=complete, built_s=0.0)
    if len(ids) > exact_limit:
        index.centroids, index.cells = _ivf(matrix, int(np.sqrt(len(ids))), seed)
    index.built_s = time.monotonic() - began
    return index


def _ivf(matrix: np.ndarray, cells: int, seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    sample = matrix[rng.choice(len(matrix), size=min(len(matrix), cells * 40), replace=False)]
    centroids = sample[rng.choice(len(sample), size=cells, replace=False)]
    for _ in range(8):
        assignment = np.argmax(sample @ centroids.T, axis=1)
        for c in range(cells):
            members = sample[assignment == c]
            if len(members):
                centroids[c] = members.mean(axis=0)
        centroids = _unit(centroids)
    assignment = np.concatenate([np.argmax(chunk @ centroids.T, axis=1)
                                 for chunk in np.array_split(matrix, max(1, len(matrix) // 8192))])
    return centroids, [np.flatnonzero(assignment == c) for c in range(cells)]


Loader = Callable[[int], AsyncIterator[tuple[Any, Sequence[float] | np.ndarray]]]
MarkerReader = Callable[[], Awaitable[CollectionMarker]]


class VectorIndexes:
    """Every index of this replica, within its memory bounds; built in tasks beside the consumer."""

    def __init__(self, *, max_index_bytes: int, max_total_bytes: int, ttl_s: float, refresh_s: float,
                 exact_limit: int, probes: int) -> None:
        self._max_index_bytes = max_index_bytes
        self._max_total_bytes = max_total_bytes
        self._ttl_s = ttl_s
        self._refresh_s = refresh_s
        self._exact_limit = exact_limit
        self.probes = probes
        self._indexes: OrderedDict[IndexKey, VectorIndex] = OrderedDict()
        self._building: dict[IndexKey, asyncio.Task[VectorIndex]] = {}

    @property
    def total_bytes(self) -> int:
        return sum(index.nbytes for index in self._indexes.values())

    async def index(self, key: IndexKey, load: Loader, marker: MarkerReader) -> VectorIndex:
        """The key's index, built (or rebuilt after a change) if needed; waits for a build in progress."""
        self._expire()
        now = time.monotonic()
        current = self._indexes.get(key)
        if current is not None and now - current.checked_at >= self._refresh_s:
            current.checked_at = now
            if await marker() != current.marker:
                log.info("collection of index %s/%s changed; rebuilding", key.resource_id, key.connection)
                current = None
        if current is not None:
            current.last_used = now
            self._indexes.move_to_end(key)
            return current
        task = self._building.get(key)
        if task is None:
            task = self._building[key] = asyncio.create_task(self._build(key, load, marker))
            task.add_done_callback(lambda _: self._building.pop(key, None))
        # A caller's deadline cancels its wait, not the build: the next request finds the index.
        return await asyncio.shield(task)

    async def _build(self, key: IndexKey, load: Loader, marker: MarkerReader) -> VectorIndex:
        began = time.monotonic()
        before = await marker()
        ids: list[Any] = []
        rows: list[np.ndarray] = []  # float32 rows: a Python list of floats would take six times the memory
        used, complete = 0, True
        async for doc_id, vector in load(self._max_index_bytes):
            row = np.asarray(vector, dtype=np.float32)
            used += row.nbytes + 64
            if used > self._max_index_bytes:
                complete = False
                break
            ids.append(doc_id)
            rows.append(row)
        if len({r.shape for r in rows}) > 1:
            raise ValueError("the collection's vectors do not all have the same number of dimensions")
        vectors = np.stack(rows) if rows else np.zeros((0, 1), np.float32)
        index = await asyncio.to_thread(build_index, ids, vectors, before, complete=complete,
                                        exact_limit=self._exact_limit)
        self._indexes[key] = index
        self._evict_over_total()
        log.info("index %s/%s: %d vectors, %.1f MiB, read+built in %.2f s%s", key.resource_id, key.connection,
                 len(ids), index.nbytes / 2**20, time.monotonic() - began, "" if complete else " (cut at bound)")
        return index

    def _expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, index in self._indexes.items() if now - index.last_used > self._ttl_s]:
            del self._indexes[key]

    def _evict_over_total(self) -> None:
        while self._indexes and self.total_bytes > self._max_total_bytes:
            key, _ = self._indexes.popitem(last=False)
            log.info("index %s/%s evicted (memory bound)", key.resource_id, key.connection)

    def drop(self, resource_id: str, connection: str | None = None) -> int:
        """Forget a connection's (or a whole resource's) indexes."""
        doomed = [k for k in self._indexes
                  if k.resource_id == resource_id and (connection is None or k.connection == connection)]
        for key in doomed:
            del self._indexes[key]
        return len(doomed)

    def index_keys(self) -> list[IndexKey]:
        return list(self._indexes)
