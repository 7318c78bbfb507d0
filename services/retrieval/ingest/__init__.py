"""Ingestion, the customer's side of "on your data": files into chunks, chunks into vectors, both into
the customer's own MongoDB collection, where retrieval reads them at request time.

It runs where the customer's data is and talks to the platform only through its public HTTP API
(the embeddings endpoint of an embedding deployment), as any customer code would::

    from services.retrieval.ingest import Ingestion, ingest
    report = ingest(["docs/"], Ingestion(gateway="https://...", api_key="...", deployment="embeddings",
                                         mongo_uri="mongodb://...", database="kb", collection="articles"))

or ``just ingest docs/ --gateway ... --deployment ... --mongo ... --database kb --collection articles``.
Re-ingesting is idempotent: a chunk's ID is the hash of its file path and content, unchanged
chunks are neither embedded nor written again, and chunks a changed file no longer has are removed.
"""

from services.retrieval.ingest.pipeline import Ingestion, IngestReport, ingest

__all__ = ["IngestReport", "Ingestion", "ingest"]
