"""The checks every topic's contract passes; each tests/contract/test_<topic>.py names its examples."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ValidationError

from contracts.base import region_of_topic
from contracts.registry import TOPICS, TopicSpec
from services.runtime.bus import TopicPublisher
from tests.contract.snapshots import breaking_changes, schema_of, snapshot_path

ENVELOPE: dict[str, Any] = {
    "request_id": "req-0123456789abcdef", "resource_id": "contoso", "region": "eu-west",
    "deployment": "chat", "created_at": datetime(2026, 11, 26, 6, 0, tzinfo=UTC), "reply_to": "gw-1",
}


class ContractSuite:
    module: ClassVar[ModuleType]
    examples: ClassVar[list[BaseModel]]

    @property
    def spec(self) -> TopicSpec:
        return next(s for s in TOPICS if s.module is self.module)

    def test_topic_is_registered_with_producers_and_consumers(self) -> None:
        assert self.spec.producers and self.spec.consumers
        assert {type(e) for e in self.examples} == set(self.spec.messages), "one example per message model"

    def test_topic_name_starts_with_the_region(self) -> None:
        name = self.spec.name("eu-west")
        assert region_of_topic(name) == "eu-west" and re.search(r"\.v[0-9]+$", name)
        assert self.spec.dlq_name("eu-west") == name + ".dlq"

    def test_schema_change_is_additive(self) -> None:
        for model in self.spec.messages:
            path = snapshot_path(self.spec, model)
            assert path.exists(), f"no snapshot for {model.__name__}: run `just contract-snapshots`"
            problems = breaking_changes(json.loads(path.read_text()), schema_of(model))
            assert not problems, f"{model.__name__} changed incompatibly (use a new v2 topic): {problems}"

    def test_every_field_is_described(self) -> None:
        for model in self.spec.messages:
            undocumented = [n for n, f in model.model_fields.items() if not f.description]
            assert not undocumented, f"{model.__name__}: {undocumented}"

    @pytest.mark.parametrize("codec", ["json", "python"])
    def test_round_trip_keeps_every_value(self, codec: str) -> None:
        for example in self.examples:
            model = type(example)
            if codec == "json":
                again = model.model_validate_json(example.model_dump_json())
            else:
                again = model.model_validate(example.model_dump())
            assert again == example

    def test_unknown_fields_and_mutation_are_refused(self) -> None:
        for example in self.examples:
            with pytest.raises(ValidationError):
                type(example).model_validate({**example.model_dump(), "surprise": 1})
            with pytest.raises(ValidationError):
                example.request_id = "changed-id-000"  # type: ignore[misc]

    @pytest.mark.parametrize("resource_id", ["contoso", "fabrikam-eu", "Tenant_42"])
    async def test_key_is_the_resource_id(self, resource_id: str) -> None:
        """The topic's key function, and what the publisher actually sends, is the message's resource ID
        (or the field the registry names as the topic's key)."""
        for example in self.examples:
            message = type(example).model_validate({**example.model_dump(), "resource_id": resource_id})
            expected = str(getattr(message, self.spec.key))
            assert self.module.key(expected) == expected.encode()
            broker = KeyRecordingBroker()
            await TopicPublisher(broker, self.spec.template, message.region,  # type: ignore[arg-type]
                                 key_field=self.spec.key).publish(message)
            assert broker.keys == [self.module.key(expected)]


class KeyRecordingBroker:
    """The one broker call TopicPublisher makes, recording the key of what it publishes."""

    def __init__(self) -> None:
        self.keys: list[bytes] = []

    def publisher(self, topic: str, **_: object) -> KeyRecordingBroker:
        return self

    async def publish(self, message: object, *, key: bytes, headers: object = None) -> None:
        self.keys.append(key)
