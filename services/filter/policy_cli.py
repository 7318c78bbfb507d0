"""Content-filter policies of a region's resources, in the filter's MongoDB store.

    python -m services.filter.policy_cli show contoso
    python -m services.filter.policy_cli put contoso policy.json     # a ResourcePolicy as JSON ('-' = stdin)
    python -m services.filter.policy_cli delete contoso

``just filter-policy <command> ...`` runs it with RESIDENCY_FILTER_* settings (region, MONGO_URI). A
running filter sees a change within RESIDENCY_FILTER_POLICY_CACHE_S (30 s). Example document::

    {"default": {"prompt": {"violence": "low", "blocklists": ["products"]},
                 "completion": {"pii": "redact"}, "streaming": "asynchronous"},
     "deployments": {"chat-strict": {"on_detector_error": "fail_closed"}},
     "blocklists": [{"id": "products", "terms": ["project bluebird"], "patterns": ["\\\\bTKT-\\\\d{6}\\\\b"]}]}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from pydantic import ValidationError
from pymongo import AsyncMongoClient

from services.filter.adapters.policies import MongoPolicyStore
from services.filter.policy import ResourcePolicy
from services.filter.settings import FilterSettings


async def run(args: argparse.Namespace, settings: FilterSettings) -> int:
    client: AsyncMongoClient = AsyncMongoClient(settings.mongo_uri.get_secret_value(), serverSelectionTimeoutMS=5000,
                                                **settings.mongo_client_options())
    store = MongoPolicyStore(client, settings.policy_database_name)
    try:
        if args.command == "show":
            policy = await store.load(args.resource_id) or ResourcePolicy(resource_id=args.resource_id,
                                                                          default=settings.default_policy)
            print(policy.model_dump_json(indent=2))
        elif args.command == "put":
            raw = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
            try:
                policy = ResourcePolicy.model_validate({**json.loads(raw), "resource_id": args.resource_id})
            except ValidationError as error:
                for problem in error.errors(include_input=False, include_url=False):
                    print(f"refused: {'.'.join(map(str, problem['loc']))}: {problem['msg']}", file=sys.stderr)
                return 2
            await store.put(policy)
            print(f"policy of {args.resource_id} stored in {settings.policy_database_name}")
        elif args.command == "delete":
            deleted = await store.delete(args.resource_id)
            print(f"policy of {args.resource_id} {'deleted' if deleted else 'was not set'}")
    finally:
        await store.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="filter-policy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("show", "delete"):
        commands.add_parser(name).add_argument("resource_id")
    put = commands.add_parser("put")
    put.add_argument("resource_id")
    put.add_argument("file")
    return asyncio.run(run(parser.parse_args(argv), FilterSettings()))


if __name__ == "__main__":
    raise SystemExit(main())
