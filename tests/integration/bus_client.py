"""Talks to the running stack over the real bus, as the filter and the gateway would."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import BaseModel

from contracts.base import topic_name, utc_now


def envelope(region: str, *, resource_id: str = "contoso", reply_to: str = "test-client",
             deployment: str = "chat") -> dict[str, Any]:
    return {"request_id": uuid.uuid4().hex, "resource_id": resource_id, "region": region,
            "deployment": deployment, "created_at": utc_now(), "reply_to": reply_to}


class BusClient:
    """Publishes contract messages and collects, per request ID, what comes back on one topic."""

    def __init__(self, bootstrap: str, region: str, listen_template: str, model: type[BaseModel] | Any) -> None:
        self._bootstrap = bootstrap
        self._region = region
        self._listen = topic_name(listen_template, region)
        self._model = model
        self._received: dict[str, list[Any]] = {}
        self._records: dict[str, list[Any]] = {}
        self._changed = asyncio.Event()

    async def __aenter__(self) -> BusClient:
        self._producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, acks="all", enable_idempotence=True)
        self._consumer = AIOKafkaConsumer(self._listen, bootstrap_servers=self._bootstrap, group_id=None,
                                          auto_offset_reset="latest")
        await self._producer.start()
        await self._consumer.start()
        async with asyncio.timeout(10):
            while not self._consumer.assignment():
                await asyncio.sleep(0.05)
        for partition in self._consumer.assignment():
            await self._consumer.position(partition)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._reader.cancel()
        await self._consumer.stop()
        await self._producer.stop()

    async def _read(self) -> None:
        validate = getattr(self._model, "validate_json", None) or self._model.model_validate_json
        async for record in self._consumer:
            message = validate(record.value)
            self._received.setdefault(message.request_id, []).append(message)
            self._records.setdefault(message.request_id, []).append(record)
            self._changed.set()

    async def publish(self, template: str, message: BaseModel) -> None:
        await self._producer.send_and_wait(topic_name(template, self._region), message.model_dump_json().encode(),
                                           key=message.resource_id.encode())

    async def wait_for(self, request_id: str, done: Any, timeout_s: float = 120.0) -> list[Any]:
        """Messages of ``request_id`` once ``done(messages)`` holds."""
        async with asyncio.timeout(timeout_s):
            while True:
                self._changed.clear()
                if done(self._received.get(request_id, [])):
                    break
                await self._changed.wait()
        return self._received[request_id]

    def received(self, request_id: str) -> list[Any]:
        return self._received.get(request_id, [])

    def records(self, request_id: str) -> list[Any]:
        return self._records.get(request_id, [])
