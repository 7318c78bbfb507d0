"""``just bench retrieval``: top-5 latency of on-your-data search at 10k and 100k chunks, index build
time and memory, and recall@5 of the approximate (IVF) index against exact search. Prints figures;
asserts nothing about timings.

The chunks are synthetic: 384-dimensional vectors drawn around 200 random centres (the shape of
all-MiniLM-L6-v2 embeddings of a varied corpus) and text made of a 5,000-word vocabulary, written
to the customer store (FerretDB on loopback, no index on the text). Measured per query, on 200
queries drawn like the chunks:

- ``vector top-5``: the in-memory index alone (exact up to 20k vectors, IVF above);
- ``hybrid, excl. embedding``: the whole search of a grounding request with the service's
  default 5 s deadline — the index, fetching the vector hits, the ``$regex`` keyword scan of the
  customer's collection (within 30 % of the deadline, else BM25 over the vector hits only), BM25
  and fusion — with the query vectors given;
- ``query embedding``: all-MiniLM-L6-v2 on vLLM's pooling runner embedding one query in-process
  (the bus hop to inference adds a few ms on top); ``incl. embedding`` adds it to the above.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from bson.binary import Binary, BinaryVectorDtype
from pymongo import AsyncMongoClient

from contracts.base import utc_now
from contracts.common import ChatMessage, SamplingParams
from contracts.grounding_requests_v2 import ConnectionDataSource, GroundingRequested
from services.connections.endpoint import parse_endpoint
from services.connections.model import DataConnection
from services.connections.policy import AllowedNetwork, EndpointPolicy
from services.retrieval.adapters.mongo_documents import MongoCustomerDocuments, ReadLimits
from services.retrieval.handlers import RetrievalPorts, _search
from services.retrieval.vector_index import CollectionMarker, IndexKey, VectorIndexes, build_index

DIMS, CENTRES, QUERIES = 384, 200, 200
HYBRID_QUERIES = 20  # each reads the customer's collection with $regex (a full scan on FerretDB)
ROOT = Path(__file__).resolve().parents[2]


def corpus(n: int, seed: int) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(CENTRES, DIMS))
    labels = rng.integers(CENTRES, size=n)
    vectors = (centres[labels] + 0.6 * rng.normal(size=(n, DIMS))).astype(np.float32)
    vocabulary = [f"w{i}" for i in range(5000)]
    texts = [" ".join(rng.choice(vocabulary, size=60)) for _ in range(n)]
    return vectors, texts


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return f"p50 {statistics.median(ordered) * 1000:7.2f} ms   p99 {p99 * 1000:7.2f} ms"


async def fill(uri: str, database: str, vectors: np.ndarray, texts: list[str]) -> float:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    began = time.perf_counter()
    collection = client[database]["chunks"]
    await collection.drop()
    for start in range(0, len(texts), 1000):
        batch = range(start, min(start + 1000, len(texts)))
        await collection.insert_many([{"_id": f"c{i:07d}", "title": f"chunk {i}", "content": texts[i],
                                       "vector": Binary.from_vector(vectors[i].tolist(), BinaryVectorDtype.FLOAT32)}
                                      for i in batch])
    await client.close()
    return time.perf_counter() - began


class GivenVectors:
    """The query embedder, replaced by vectors computed beforehand (the embedding is measured apart)."""

    def __init__(self) -> None:
        self.next: list[list[float]] = []

    async def embed(self, request: GroundingRequested, queries: list[str]) -> list[list[float]]:
        return self.next


class OneConnection:
    def __init__(self, connection: DataConnection) -> None:
        self.connection = connection

    async def get(self, resource_id: str, name: str) -> DataConnection | None:
        return self.connection


async def measure(n: int, uri: str, port: int) -> None:
    vectors, texts = corpus(n, seed=n)
    database = f"bench_{n}"
    filled = await fill(uri, database, vectors, texts)
    print(f"\n{n:,} chunks ({filled:.1f} s to write to the customer store)")
    connection = DataConnection(resource_id="bench", name="kb", database=database, username=None, password=None,
                                endpoint=parse_endpoint(f"127.0.0.1:{port}").endpoint,
                                created_at=datetime(2026, 12, 1, tzinfo=UTC))
    policy = EndpointPolicy(allowed=[AllowedNetwork.parse(f"127.0.0.1/32:{port}")])
    documents = MongoCustomerDocuments(policy=policy, sealer=None, limits=ReadLimits(operation_timeout_ms=30_000))
    indexes = VectorIndexes(max_index_bytes=1 << 30, max_total_bytes=2 << 30, ttl_s=3600, refresh_s=3600,
                            exact_limit=20_000, probes=16)
    source = ConnectionDataSource(connection="kb", database_name=database, collection_name="chunks",
                                  vector_fields=["vector"], embedding_deployment="emb", embedding_model="minilm",
                                  strictness=1, top_n_documents=5)
    key = IndexKey("bench", "kb", connection.created_at.timestamp(), database, "chunks", "vector")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.perf_counter()
    index = await indexes.index(key, lambda cap: documents.vectors(connection, source, "vector", cap),
                                lambda: documents.marker(connection, source))
    built = time.perf_counter() - began
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kind = "IVF" if index.centroids is not None else "exact"
    print(f"  index ({kind}): read + built in {built:.2f} s (build alone {index.built_s:.2f} s), "
          f"{index.nbytes / 2**20:.1f} MiB, peak RSS +{(rss_after - rss_before) / 1024:.0f} MiB")

    queries, words = corpus(QUERIES, seed=n + 1)
    vector_times = []
    for q in queries:
        t = time.perf_counter()
        index.search(q, 5, indexes.probes)
        vector_times.append(time.perf_counter() - t)
    print(f"  vector top-5:              {percentiles(vector_times)}")

    exact = build_index(index.ids, index.matrix, CollectionMarker(0, ""), complete=True, exact_limit=n + 1)
    approx = build_index(index.ids, index.matrix, CollectionMarker(0, ""), complete=True, exact_limit=0)
    truth = [{i for i, _ in exact.search(q, 5, 0)} for q in queries]
    exact_times = []
    for q in queries:
        t = time.perf_counter()
        exact.search(q, 5, 0)
        exact_times.append(time.perf_counter() - t)
    print(f"  exact top-5:               {percentiles(exact_times)}")
    for probes in (8, 16, 32, 64):
        times, hits = [], 0
        for q, expected in zip(queries, truth, strict=True):
            t = time.perf_counter()
            found = approx.search(q, 5, probes)
            times.append(time.perf_counter() - t)
            hits += len({i for i, _ in found} & expected)
        print(f"  IVF top-5, {probes:2d} of {len(approx.cells)} cells: {percentiles(times)}   "
              f"recall@5 {hits / (5 * len(queries)):.3f}")

    embedder = GivenVectors()
    ports = RetrievalPorts(connections=OneConnection(connection), documents=documents, submissions=None,  # type: ignore[arg-type]
                           replies=None, max_candidates=200, deadline_s=5.0, indexes=indexes,  # type: ignore[arg-type]
                           embedder=embedder)
    hybrid_times = []
    for q, text in list(zip(queries, words, strict=True))[:HYBRID_QUERIES]:
        question = " ".join(text.split()[:4])
        request = GroundingRequested(
            request_id=f"bench-{len(hybrid_times):06d}", resource_id="bench", region="eu-west", deployment="chat",
            created_at=utc_now(), reply_to="bench", model="m", sampling=SamplingParams(),
            messages=[ChatMessage(role="user", content=question)], data_source=source)
        embedder.next = [q.tolist()]
        t = time.perf_counter()
        pool = await _search(request, [question], ports)
        pool.select(strictness=1, top_n=5, hybrid=True)
        hybrid_times.append(time.perf_counter() - t)
    print(f"  hybrid, excl. embedding ({len(hybrid_times)} queries): {percentiles(hybrid_times)}")
    RESULTS[n] = hybrid_times
    await documents.close()


RESULTS: dict[int, list[float]] = {}


async def embedding_times() -> list[float]:
    from services.inference.adapters.vllm_embeddings import VllmEmbeddingEngine
    from services.inference.settings import InferenceSettings

    settings = InferenceSettings()
    name, model = next(iter(settings.embedding_models.items()))
    engine = VllmEmbeddingEngine(name, model, settings, work_dir=ROOT / ".cache" / "bench-retrieval")
    await engine.start()
    from contracts.embedding_requests import EmbedTexts

    times = []
    try:
        for i in range(QUERIES):
            request = EmbedTexts(request_id=f"bench-e{i:06d}", resource_id="bench", region="eu-west",
                                 deployment="emb", created_at=utc_now(), reply_to="bench", model=name,
                                 inputs=[f"How does feature {i} of the product behave when the battery is low?"])
            t = time.perf_counter()
            await engine.embed(request)
            times.append(time.perf_counter() - t)
    finally:
        await engine.close()
    return times


async def main_async(args: argparse.Namespace) -> None:
    for n in args.sizes:
        await measure(n, args.customer_mongo, args.customer_port)
    if args.embedding:
        embedded = await embedding_times()
        print(f"\nquery embedding (MiniLM on vLLM, in-process): {percentiles(embedded)}")
        for n, hybrid in RESULTS.items():
            total = [h + e for h, e in zip(hybrid, embedded, strict=False)]
            print(f"  {n:>7,} chunks, hybrid incl. embedding: {percentiles(total)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kafka", help="unused (the recipe's common argument)")
    parser.add_argument("--mongo", help="unused (the recipe's common argument)")
    parser.add_argument("--logs", type=Path, help="unused")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[10_000, 100_000])
    parser.add_argument("--no-embedding", dest="embedding", action="store_false")
    args = parser.parse_args()
    args.customer_port = int(os.environ.get("RESIDENCY_CUSTOMER_MONGO_PORT", "28518"))
    args.customer_mongo = f"mongodb://127.0.0.1:{args.customer_port}/"
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
