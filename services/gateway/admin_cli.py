"""Control-plane CLI over the gateway's admin API (``just admin ...``).

    python -m services.gateway.admin_cli create-resource contoso --region eu-west \\
        --deployment chat=smollm2-135m-instruct [--no-content-logging]
    python -m services.gateway.admin_cli show contoso
    python -m services.gateway.admin_cli set-content-logging contoso off
    python -m services.gateway.admin_cli regenerate-key contoso key2
    python -m services.gateway.admin_cli delete contoso

The admin URL and key come from RESIDENCY_ADMIN_URL (default http://127.0.0.1:8090,
the first gateway's admin listener) and
RESIDENCY_ADMIN_KEY.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import httpx


def client() -> httpx.Client:
    key = os.environ.get("RESIDENCY_ADMIN_KEY")
    if not key:
        sys.exit("set RESIDENCY_ADMIN_KEY (the demo's is in .data/demo/secrets.env as ADMIN_KEY)")
    return httpx.Client(base_url=os.environ.get("RESIDENCY_ADMIN_URL", "http://127.0.0.1:8090"),
                        headers={"authorization": f"Bearer {key}"}, timeout=10)


def deployments(pairs: list[str]) -> list[dict[str, str]]:
    result = []
    for pair in pairs:
        name, sep, model = pair.partition("=")
        if not sep:
            sys.exit(f"--deployment takes NAME=MODEL, not {pair!r}")
        result.append({"name": name, "model": model})
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-resource")
    create.add_argument("resource_id")
    create.add_argument("--region", required=True)
    create.add_argument("--deployment", action="append", default=[], metavar="NAME=MODEL")
    create.add_argument("--no-content-logging", action="store_true")
    for name in ("show", "delete"):
        commands.add_parser(name).add_argument("resource_id")
    logging_switch = commands.add_parser("set-content-logging")
    logging_switch.add_argument("resource_id")
    logging_switch.add_argument("state", choices=["on", "off"])
    regenerate = commands.add_parser("regenerate-key")
    regenerate.add_argument("resource_id")
    regenerate.add_argument("slot", choices=["key1", "key2"])
    args = parser.parse_args(argv)

    with client() as admin:
        if args.command == "create-resource":
            response = admin.post("/admin/resources", json={
                "resource_id": args.resource_id, "region": args.region,
                "content_logging": not args.no_content_logging, "deployments": deployments(args.deployment)})
        elif args.command == "show":
            response = admin.get(f"/admin/resources/{args.resource_id}")
        elif args.command == "delete":
            response = admin.delete(f"/admin/resources/{args.resource_id}")
        elif args.command == "set-content-logging":
            response = admin.patch(f"/admin/resources/{args.resource_id}",
                                   json={"content_logging": args.state == "on"})
        else:
            response = admin.post(f"/admin/resources/{args.resource_id}/keys/{args.slot}/regenerate")
    if response.content:
        print(json.dumps(response.json(), indent=2))
    return 0 if response.is_success else 1


if __name__ == "__main__":
    sys.exit(main())
