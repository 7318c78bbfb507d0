"""The serving object owns an accepted call from admission to record: whichever way the answer
ends, the rate-limit charge is settled and the interaction recorded exactly once."""

from __future__ import annotations

import asyncio

import pytest

from contracts.generation_cancellations import CancelGeneration
from contracts.interaction_records import InteractionCompleted
from services.gateway.rate_limits import Admission, admit
from services.gateway.resources import Limits
from services.gateway.serving import ServingChat
from tests.unit.gateway_fakes import USAGE, answer_in_pieces, completion, screened
from tests.unit.test_gateway_handlers import call, ports_answering

STREAM_SCOPE = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
                "method": "POST", "path": "/v1/chat/completions", "headers": []}


def streamed_call():
    c = call()
    return type(c)(**{**c.__dict__, "stream": True})


async def never_disconnects():
    await asyncio.Event().wait()  # the caller stays: no http.disconnect ever arrives


async def test_a_streamed_answer_read_to_the_end_is_recorded_once_as_200_and_settled():
    ports, bus = ports_answering(answer_in_pieces)
    resource_call = streamed_call()
    limited = resource_call.resource.model_copy(update={"limits": Limits(tpm=100_000)})
    resource_call = type(resource_call)(**{**resource_call.__dict__, "resource": limited})
    admission = await admit(ports.windows, limited, resource_call.deployment, 5000)
    serving = ServingChat(resource_call, ports, admission)
    response = await serving.respond()
    sent = []

    async def send(message):
        sent.append(message)

    await response(STREAM_SCOPE, never_disconnects, send)

    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body").decode()
    assert body.endswith("data: [DONE]\n\n") and '"content":"Hel"' in body
    [record] = bus.of_type(InteractionCompleted)
    assert (record.status, record.completions) == (200, ["Hello"])
    assert bus.of_type(CancelGeneration) == []
    # The estimate (5000) was replaced by the real usage.
    assert [tokens for _, tokens in ports.windows.windows.values()] == [USAGE.total_tokens]


async def test_a_caller_gone_before_the_first_byte_still_gets_its_call_finished_once():
    ports, bus = ports_answering(lambda request: [  # the first text is there, and the generation goes on
        screened(request), completion(request, "Hel", final=False, finish_reason=None)])
    serving = ServingChat(streamed_call(), ports, Admission(headers={}))
    response = await serving.respond()

    async def send(message):
        raise OSError("connection reset by peer")  # the socket is gone before the headers are out

    with pytest.raises(OSError, match="reset"):
        await response(STREAM_SCOPE, never_disconnects, send)

    assert len(bus.of_type(InteractionCompleted)) == 1
    assert [c.reason for c in bus.of_type(CancelGeneration)] == ["client_disconnected"]
    assert ports.inbox.waiting == 0
    await serving.finish(http_status=200)  # a second finish does nothing
    assert len(bus.of_type(InteractionCompleted)) == 1


async def test_a_whole_answer_is_recorded_once():
    ports, bus = ports_answering(answer_in_pieces)
    serving = ServingChat(call(), ports, Admission(headers={}))
    response = await serving.respond()

    assert response.status_code == 200
    [record] = bus.of_type(InteractionCompleted)
    assert (record.status, record.completions) == (200, ["Hello"])


@pytest.mark.parametrize("stream", [False, True])
async def test_an_engine_still_starting_is_a_503_with_its_retry_after(stream):
    from contracts.common import ApiError
    from contracts.gateway_replies import RequestFailed

    starting = ApiError(status=503, type="server_error", code="engine_starting", retry_after_s=30,
                        message="The model's engine is starting; retry in 30 s.")
    ports, bus = ports_answering(lambda request: [screened(request),
                                                  RequestFailed(**request.envelope(), error=starting)])
    admission = Admission(headers={"x-ratelimit-limit-requests": "9"})
    serving = ServingChat(streamed_call() if stream else call(), ports, admission)
    response = await serving.respond()

    assert response.status_code == 503 and response.headers["retry-after"] == "30"
    assert response.headers["x-ratelimit-limit-requests"] == "9"
    [record] = bus.of_type(InteractionCompleted)
    assert (record.status, record.error_code) == (503, "engine_starting")
