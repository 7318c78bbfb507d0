"""Creates a region's topics exactly as contracts/registry.py declares them (``just topics``).

Idempotent: missing topics are created; existing ones get their configuration set again, so a
lowered content retention takes effect on the next run. The broker never auto-creates topics.

    python -m services.runtime.topics --region eu-west [--bootstrap 127.0.0.1:9092]

TLS/SASL to the broker: ``RESIDENCY_OPS_KAFKA_*`` (services.runtime.connection_security.OperatorSettings).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from contracts.base import validate_region
from contracts.registry import TOPICS, TopicSpec, retired_topic_names
from services.runtime.connection_security import OperatorSettings

ONE_HOUR_MS = 3600 * 1000
TOPIC_ALREADY_EXISTS = 36


@dataclass(frozen=True)
class TopicPolicy:
    """Cluster-wide settings of topic creation, from the command line or a service's settings."""

    content_retention_ms: int = ONE_HOUR_MS
    replication_factor: int = 1
    min_insync_replicas: int = 1
    partitions: int | None = None  # None: each topic's registry partition count


def topic_configs(spec: TopicSpec, policy: TopicPolicy) -> dict[str, str]:
    retention = policy.content_retention_ms if spec.carries_content else spec.retention_ms_without_content
    return {
        "retention.ms": str(retention),
        "cleanup.policy": "delete",
        "min.insync.replicas": str(policy.min_insync_replicas),
        # Small segments: retention deletes whole segments, so content leaves the log soon after expiry.
        "segment.ms": str(min(retention, ONE_HOUR_MS)),
    }


def planned_topics(region: str, policy: TopicPolicy) -> dict[str, tuple[int, dict[str, str]]]:
    """Topic name to (partitions, configs) for one region; a DLQ copies its source's settings."""
    plan = {}
    for spec in TOPICS:
        partitions = policy.partitions or spec.partitions
        configs = topic_configs(spec, policy)
        plan[spec.name(region)] = (partitions, configs)
        plan[spec.dlq_name(region)] = (partitions, configs)
    return plan


async def ensure_topics(bootstrap: str, region: str, policy: TopicPolicy = TopicPolicy(),
                        **client_options: Any) -> list[str]:
    """Create or re-configure every topic of ``region``; returns the names of created topics.
    ``client_options``: TLS/SASL for aiokafka (``OperatorSettings().kafka_client_options()``)."""
    plan = planned_topics(validate_region(region), policy)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options)
    await admin.start()
    try:
        response = await admin.create_topics([
            NewTopic(name, partitions, policy.replication_factor, topic_configs=configs)
            for name, (partitions, configs) in plan.items()
        ])
        created = []
        for topic, code, message in response.topic_errors:
            if code == 0:
                created.append(topic)
            elif code != TOPIC_ALREADY_EXISTS:
                raise RuntimeError(f"creating {topic} failed: error {code}: {message}")
        existing = [name for name in plan if name not in created]
        if existing:
            await admin.alter_configs([
                ConfigResource(ConfigResourceType.TOPIC, name, plan[name][1]) for name in existing
            ])
        await _delete_retired(admin, region)
        await _wait_for_leaders(admin, list(plan))
        await _wait_for_retention(admin, {name: int(plan[name][1]["retention.ms"]) for name in plan})
        return created
    finally:
        await admin.close()


async def _delete_retired(admin: AIOKafkaAdminClient, region: str) -> None:
    """Delete the region's retired topics that still exist (see contracts.registry.RETIRED_TOPICS)."""
    retired = set(retired_topic_names(region)) & set(await admin.list_topics())
    if retired:
        await admin.delete_topics(sorted(retired))
        print(f"[topics] {region}: deleted retired {', '.join(sorted(retired))}", file=sys.stderr)


async def _wait_for_leaders(admin: AIOKafkaAdminClient, topics: list[str], timeout_s: float = 30.0) -> None:
    """Return once every partition has a leader, so the first publish does not bounce."""
    async with asyncio.timeout(timeout_s):
        while True:
            described = await admin.describe_topics(topics)
            if all(t["error_code"] == 0 and t["partitions"] and all(p["leader"] >= 0 for p in t["partitions"])
                   for t in described):
                return
            await asyncio.sleep(0.1)


async def _wait_for_retention(admin: AIOKafkaAdminClient, expected: dict[str, int],
                              timeout_s: float = 30.0) -> None:
    """Return once the broker reports the planned retention everywhere (config changes apply lazily)."""
    async with asyncio.timeout(timeout_s):
        while await _retention(admin, list(expected)) != expected:
            await asyncio.sleep(0.1)


async def _retention(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, int]:
    responses = await admin.describe_configs([
        ConfigResource(ConfigResourceType.TOPIC, name, {"retention.ms": None}) for name in topics
    ])
    found = {}
    for response in responses:
        for _code, _msg, _type, name, entries in response.resources:
            for entry in entries:
                if entry[0] == "retention.ms":
                    found[name] = int(entry[1])
    return found


async def retention_of(bootstrap: str, topics: list[str], **client_options: Any) -> dict[str, int]:
    """The broker's ``retention.ms`` of each topic, as it is in force."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options)
    await admin.start()
    try:
        return await _retention(admin, topics)
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--region", action="append", required=True, help="region (repeatable)")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--content-retention-ms", type=int, default=ONE_HOUR_MS)
    parser.add_argument("--replication-factor", type=int, default=1)
    parser.add_argument("--min-insync-replicas", type=int, default=1)
    parser.add_argument("--partitions", type=int, default=None)
    args = parser.parse_args(argv)
    policy = TopicPolicy(args.content_retention_ms, args.replication_factor,
                         args.min_insync_replicas, args.partitions)
    for region in args.region:
        created = asyncio.run(ensure_topics(args.bootstrap, region, policy,
                                            **OperatorSettings().kafka_client_options()))
        total = len(planned_topics(region, policy))
        print(f"[topics] {region}: {total} topics ready ({len(created)} created)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
