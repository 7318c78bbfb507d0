"""Waits until Kafka answers a metadata request and MongoDB answers a ping (used by infra.sh)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient


async def kafka_ready(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await admin.start()
        await admin.list_topics()
    finally:
        await admin.close()


async def mongo_ready(uri: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, serverSelectionTimeoutMS=2000)
    try:
        await client.admin.command("ping")
    finally:
        await client.close()


async def wait(check: Callable[[str], Awaitable[None]], target: str, deadline: float) -> None:
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            await check(target)
            return
        except Exception as error:  # noqa: BLE001 - any failure means "not yet"
            last = error
            await asyncio.sleep(0.5)
    raise TimeoutError(f"{target} not ready: {type(last).__name__}: {last}")


async def main(argv: list[str]) -> int:
    # Refused connections are expected while the broker starts; only the final verdict matters.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kafka", help="bootstrap servers")
    parser.add_argument("--mongo", action="append", default=[], help="MongoDB URI (repeatable)")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.timeout
    checks = []
    if args.kafka:
        checks.append(wait(kafka_ready, args.kafka, deadline))
    for uri in args.mongo:
        checks.append(wait(mongo_ready, uri, deadline))
    try:
        await asyncio.gather(*checks)
    except TimeoutError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
