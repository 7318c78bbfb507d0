"""One retention service's ports built from fakes and the real keyring, for the unit tests."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.common import Usage
from contracts.interaction_records import InteractionCompleted
from services.retention.adapters.platform_keys import PlatformKeyProvider
from services.retention.audit import AuditLog
from services.retention.customer import CustomerPorts
from services.retention.errors import UnreadableRecord
from services.retention.flagging import DEFAULT_RULES, Rule
from services.retention.handlers import RetentionPorts
from services.retention.keyring import Keyring
from services.retention.review.access import ReviewPorts
from services.retention.sweep import SweepPorts
from tests.unit.builders import REGION, chat, envelope
from tests.unit.retention_fakes import (
    FakeClock,
    InMemoryAuditStore,
    InMemoryFlagStore,
    InMemoryGrantStore,
    InMemoryKeyStore,
    InMemoryPolicyStore,
    InMemoryRecordStore,
)

CANARY = "canary-7f3a9c1e-plaintext"
COMPLETED_AT = datetime(2025, 3, 14, 9, 27, 5, tzinfo=UTC)
JAILBREAK = {"jailbreak": {"filtered": True, "detected": True}}
HIGH_HATE = {"hate": {"filtered": True, "severity": "high"}}
SAFE = {"hate": {"filtered": False, "severity": "safe"}, "jailbreak": {"filtered": False, "detected": False}}


class MemoryKeyProvider:
    """A customer-managed key provider in memory; ``revoke`` is the customer deleting the key."""

    def __init__(self) -> None:
        self._inner = PlatformKeyProvider({"cmk-1": os.urandom(32)})
        self.revoked = False
        self.calls = 0

    async def wrap(self, key_id: str, plaintext: bytes, associated_data: bytes) -> bytes:
        self.calls += 1
        return await self._inner.wrap(key_id, plaintext, associated_data)

    async def unwrap(self, key_id: str, wrapped: bytes, associated_data: bytes) -> bytes:
        self.calls += 1
        if self.revoked:
            raise UnreadableRecord("customer key revoked")
        return await self._inner.unwrap(key_id, wrapped, associated_data)


@dataclass
class World:
    clock: FakeClock = field(default_factory=lambda: FakeClock(COMPLETED_AT + timedelta(seconds=1)))
    records: InMemoryRecordStore = field(default_factory=InMemoryRecordStore)
    keys: InMemoryKeyStore = field(default_factory=InMemoryKeyStore)
    policies: InMemoryPolicyStore = field(default_factory=InMemoryPolicyStore)
    flags: InMemoryFlagStore = field(default_factory=InMemoryFlagStore)
    grants: InMemoryGrantStore = field(default_factory=InMemoryGrantStore)
    audit_store: InMemoryAuditStore = field(default_factory=InMemoryAuditStore)
    customer_provider: MemoryKeyProvider = field(default_factory=MemoryKeyProvider)
    customer_keys: dict[str, str] = field(default_factory=dict)
    rules: tuple[Rule, ...] = DEFAULT_RULES
    region_in_eea: bool = True
    max_days: int = 30

    def __post_init__(self) -> None:
        self.platform = PlatformKeyProvider({"platform-1": os.urandom(32)})
        self.keyring = Keyring(self.keys, self.platform, "platform-1", clock=self.clock,
                               customer=self.customer_provider, customer_keys=self.customer_keys)
        self.audit = AuditLog(self.audit_store, "review/eu-west", self.clock)

    @property
    def ports(self) -> RetentionPorts:
        return RetentionPorts(records=self.records, keyring=self.keyring, policies=self.policies, flags=self.flags,
                              clock=self.clock, region=REGION, max_retention_days=self.max_days, rules=self.rules)

    @property
    def sweep(self) -> SweepPorts:
        return SweepPorts(records=self.records, keyring=self.keyring, policies=self.policies, flags=self.flags,
                          grants=self.grants, clock=self.clock, max_retention_days=self.max_days)

    @property
    def review(self) -> ReviewPorts:
        return ReviewPorts(records=self.records, keyring=self.keyring, grants=self.grants, flags=self.flags,
                           audit=self.audit, clock=self.clock, region_in_eea=self.region_in_eea,
                           grant_ttl=timedelta(minutes=15))

    @property
    def customer(self) -> CustomerPorts:
        return CustomerPorts(sweep=self.sweep, audit=self.audit, audit_store=self.audit_store)


def interaction(*, content_logging: bool = True, **overrides: Any) -> InteractionCompleted:
    fields: dict[str, Any] = dict(
        **envelope(), completed_at=COMPLETED_AT, status=200, end_user="user-42", content_logging=content_logging,
        messages=chat(("system", "Be brief."), ("user", f"My secret is {CANARY}")),
        completions=[f"Your secret is {CANARY}", "I will not repeat it."], finish_reasons=["stop", "stop"],
        prompt_filter_results=[{"hate": {"filtered": False, "severity": "safe"}}],
        citation_ids=["65f2a1b2c3d4e5f601234567"], usage=Usage(prompt_tokens=9, completion_tokens=12, total_tokens=21))
    fields.update(overrides)
    return InteractionCompleted(**fields)
