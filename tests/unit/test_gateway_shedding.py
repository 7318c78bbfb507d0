"""Load shedding (services/gateway/shedding.py): a saturated replica answers at once with 429/503
and Retry-After in the OpenAI error shape; requests under the thresholds pass untouched."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from contracts.prompt_submissions import PromptSubmitted
from services.gateway.shedding import LoadShedder, LoadShedding, SheddingSettings
from tests.unit.gateway_fakes import gateway

CHAT = "/v1/chat/completions"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class HeldApp:
    """An ASGI app that answers each request once it is released; streams keep their body open."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.calls = 0
        self.headers_first = False  # streamed: the response starts before the body is released

    async def __call__(self, scope, receive, send) -> None:
        self.calls += 1
        if self.headers_first:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await self.release.wait()
        else:
            await self.release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def shed_app(clock: Clock, **settings) -> tuple[HeldApp, LoadShedder, httpx.AsyncClient]:
    inner = HeldApp()
    shedder = LoadShedder(SheddingSettings(**settings), clock=clock)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=LoadShedding(inner, shedder)), base_url="http://gw")
    return inner, shedder, client


def assert_shed(response: httpx.Response, status: int, code: str, retry_after: str) -> None:
    assert response.status_code == status
    assert response.headers["retry-after"] == retry_after
    assert response.headers["x-request-id"]
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["code"] == code and error["message"]


async def test_requests_under_the_thresholds_pass_and_stop_waiting_when_answered() -> None:
    clock = Clock()
    inner, shedder, client = shed_app(clock, shed_max_waiting=2, shed_max_wait_s=10)
    inner.release.set()
    async with client:
        responses = [await client.post(CHAT, json={}) for _ in range(5)]
    assert [r.status_code for r in responses] == [200] * 5 and inner.calls == 5
    assert shedder.waiting.count == 0 and shedder.shed == {429: 0, 503: 0}


async def test_a_request_waiting_past_the_threshold_sheds_new_ones_with_503_and_retry_after() -> None:
    clock = Clock()
    inner, shedder, client = shed_app(clock, shed_max_wait_s=15, shed_retry_after_s=3, shed_min_waiting=2)
    async with client:
        held = asyncio.create_task(client.post(CHAT, json={}))
        while shedder.waiting.count < 1:
            await asyncio.sleep(0.01)
        clock.now += 14.9
        passing = asyncio.create_task(client.post("/openai/deployments/d/chat/completions", json={}))
        while shedder.waiting.count < 2:
            await asyncio.sleep(0.01)
        clock.now += 0.1  # the oldest has waited 15 s
        shed = await client.post("/v1/embeddings", json={})
        still_shed = await client.post(CHAT, json={})
        inner.release.set()
        health = asyncio.create_task(client.get("/healthz"))  # only inference routes are shed
        await held, await passing
        health = await health
        after = await client.post(CHAT, json={})

    assert_shed(shed, 503, "overloaded", "3")
    assert_shed(still_shed, 503, "overloaded", "3")
    assert inner.calls == 4, "the shed requests never reached the routes"
    assert health.status_code == 200 and after.status_code == 200
    assert shedder.shed == {429: 0, 503: 2}


async def test_too_many_waiting_requests_shed_new_ones_with_429() -> None:
    clock = Clock()
    inner, shedder, client = shed_app(clock, shed_max_waiting=2, shed_max_wait_s=15)
    async with client:
        held = [asyncio.create_task(client.post(CHAT, json={})) for _ in range(2)]
        while shedder.waiting.count < 2:
            await asyncio.sleep(0.01)
        shed = await client.post("/v1/completions", json={})
        inner.release.set()
        assert [r.status_code for r in await asyncio.gather(*held)] == [200, 200]

    assert_shed(shed, 429, "too_many_requests", "2")
    assert inner.calls == 2 and shedder.shed == {429: 1, 503: 0}


async def test_a_streamed_request_stops_waiting_at_its_first_reply() -> None:
    clock = Clock()
    inner = HeldApp()
    inner.headers_first = True
    shedder = LoadShedder(SheddingSettings(shed_max_wait_s=15), clock=clock)
    sent: list[dict] = []

    async def send(message) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    scope = {"type": "http", "method": "POST", "path": CHAT, "headers": []}
    async with asyncio.timeout(5):
        streaming = asyncio.create_task(LoadShedding(inner, shedder)(scope, receive, send))
        while not sent:
            await asyncio.sleep(0.01)
        assert shedder.waiting.count == 0, "a stream that has started is no longer waiting"
        clock.now += 60  # a long stream does not make the replica look behind
        assert shedder.refusal() is None
        inner.release.set()
        await streaming
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]


def test_shedding_must_come_before_the_reply_time_out() -> None:
    with pytest.raises(ValueError, match="below reply_timeout_s"):
        gateway(reply_timeout_s=10, shed_max_wait_s=10)


async def test_the_gateway_sheds_while_inference_does_not_answer() -> None:
    # The whole public app on fakes: the bus never answers, as when inference is saturated.
    h = gateway(answer=None, reply_timeout_s=5, shed_max_wait_s=0.3, shed_min_waiting=1)
    app = h.client.app
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
        headers = {"api-key": h.keys["contoso"]}
        body = {"model": "chat-prod", "messages": [{"role": "user", "content": "Say hello"}]}
        waiting = asyncio.create_task(client.post(CHAT, json=body, headers=headers))
        await asyncio.sleep(0.5)
        shed = await client.post(CHAT, json=body, headers=headers)
        timed_out = await waiting

    assert_shed(shed, 503, "overloaded", "2")
    assert timed_out.status_code == 504
    assert len(h.bus.of_type(PromptSubmitted)) == 1, "the shed request published nothing"
    assert app.state.shedder.shed[503] == 1


async def test_one_slow_request_alone_is_not_overload() -> None:
    # A long prompt or a silent data source keeps one request waiting: nobody else is refused.
    clock = Clock()
    shedder = LoadShedder(SheddingSettings(shed_max_wait_s=15, shed_min_waiting=3), clock=clock)
    shedder.waiting.begin()
    shedder.waiting.begin()
    clock.now += 30
    assert shedder.refusal() is None
    shedder.waiting.begin()  # a third one waits: now the replica is behind
    error = shedder.refusal()
    assert error is not None and (error.status, error.code) == (503, "overloaded")


async def test_a_stream_that_has_started_but_has_no_text_yet_still_counts_as_behind() -> None:
    # The stream's response began with the prompt's annotations; inference has not answered yet.
    from contracts.gateway_replies import PromptScreened
    from services.runtime.reply_inbox import InMemoryReplyInbox
    from tests.unit.builders import envelope

    inbox = InMemoryReplyInbox()
    shedder = LoadShedder(SheddingSettings(shed_max_wait_s=0.2, shed_min_waiting=1), backlog=inbox.backlog)
    with inbox.open(envelope()["request_id"]):
        inbox.deliver(PromptScreened(**envelope(), prompt_filter_results=[]))
        await asyncio.sleep(0.25)
        assert inbox.backlog().waiting == 1 and inbox.backlog().oldest_age_s >= 0.2
        error = shedder.refusal()
        assert error is not None and error.code == "overloaded"
    assert inbox.backlog() == (0, 0.0) and shedder.refusal() is None
