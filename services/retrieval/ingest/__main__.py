"""just ingest PATH... --gateway URL --deployment NAME --mongo URI --database DB --collection NAME

The API key comes from RESIDENCY_API_KEY (never from the command line, where `ps` shows it).
"""

from __future__ import annotations

import argparse
import os
import sys

from services.retrieval.ingest.pipeline import Ingestion, ingest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", help="files or folders (.md, .txt, .html, .pdf)")
    parser.add_argument("--gateway", required=True, help="the platform's endpoint, e.g. http://127.0.0.1:8080")
    parser.add_argument("--deployment", required=True, help="an embedding deployment of your resource")
    parser.add_argument("--mongo", required=True, help="your MongoDB (the collection retrieval will read)")
    parser.add_argument("--database", required=True)
    parser.add_argument("--collection", required=True)
    parser.add_argument("--vector-field", default="vector")
    parser.add_argument("--vector-format", choices=["binary", "array"], default="binary",
                        help="BSON vector (float32, Atlas' compact form; the default) or an array of doubles")
    parser.add_argument("--url-prefix", default=None, help="a chunk's url is this prefix + its file path")
    parser.add_argument("--max-chars", type=int, default=800)
    parser.add_argument("--overlap", type=int, default=100)
    args = parser.parse_args(argv)
    key = os.environ.get("RESIDENCY_API_KEY")
    if not key:
        parser.error("set RESIDENCY_API_KEY to a key of your resource")
    report = ingest(args.paths, Ingestion(
        gateway=args.gateway, api_key=key, deployment=args.deployment, mongo_uri=args.mongo, database=args.database,
        collection=args.collection, vector_field=args.vector_field, vector_format=args.vector_format,
        url_prefix=args.url_prefix,
        max_chars=args.max_chars, overlap=args.overlap))
    print(f"[ingest] {report.files} files, {report.chunks} chunks: {report.embedded} embedded, "
          f"{report.unchanged} unchanged, {report.removed} removed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
