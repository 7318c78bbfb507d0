"""Inference handlers on the EchoEngine: what reaches the generation-events topic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from contracts.generation_cancellations import CancelGeneration
from contracts.generation_events import CompletionGenerated
from contracts.generation_requests import GenerateCompletion
from services.inference.adapters.echo_engine import EchoEngine
from services.inference.errors import EngineStarting, InvalidGenerationRequest
from services.inference.handlers import (
    InferencePorts,
    StreamPolicy,
    cancel_generation,
    generate_completion,
    warm_adapter_engine,
)
from services.inference.ports import ChoiceDelta, EngineStep
from tests.unit.builders import MODEL, REQUEST_ID, Recorder, chat, envelope, sampling

PROMPT = chat(("system", "Be brief."), ("user", "the quick brown fox jumps"))
ECHO = "You said: the quick brown fox jumps"  # what EchoEngine answers to PROMPT


def command(*, stream: bool = False, model: str = MODEL, **sampling_fields) -> GenerateCompletion:
    return GenerateCompletion(**envelope(), model=model, messages=PROMPT,
                              sampling=sampling(**sampling_fields), stream=stream)


EVERY_STEP = StreamPolicy(tokens=1, window_s=0.0)


def ports(engine=None, stream: StreamPolicy = EVERY_STEP) -> tuple[InferencePorts, Recorder]:
    events = Recorder("generation-events")
    return InferencePorts(engine=engine or EchoEngine([MODEL]), events=events, stream=stream), events


def only_final(events: Recorder) -> CompletionGenerated:
    finals = [e for e in events.published if e.final]
    assert len(finals) == 1 and events.published[-1] is finals[0]
    return finals[0]


class RefusingEngine:
    """An engine that serves the model but refuses the request, as vLLM does for bad params."""

    def serves(self, model: str) -> bool:
        return True

    async def generate(self, request: GenerateCompletion) -> AsyncIterator[EngineStep]:
        yield EngineStep((ChoiceDelta(0, "partial"),), 5, 1)
        raise InvalidGenerationRequest("logit_bias names a token outside the vocabulary", param="logit_bias")

    async def abort(self, request_id: str) -> bool:
        return False


async def test_non_streamed_request_gives_one_final_event_with_full_text_and_usage():
    inference, events = ports()
    await generate_completion(command(), inference)

    assert len(events.published) == 1
    event = only_final(events)
    assert event.request_id == REQUEST_ID and event.model == MODEL and event.error is None
    assert [(c.index, c.text, c.finish_reason) for c in event.choices] == [(0, ECHO, "stop")]
    prompt_words = len("Be brief.".split()) + len("the quick brown fox jumps".split())
    assert event.usage is not None
    assert (event.usage.prompt_tokens, event.usage.completion_tokens, event.usage.total_tokens) == (
        prompt_words, len(ECHO.split()), prompt_words + len(ECHO.split()))


async def test_streamed_request_gives_ordered_chunks_then_final_with_the_same_text():
    inference, events = ports()
    await generate_completion(command(stream=True), inference)

    *chunks, final = events.published
    assert len(chunks) >= 2
    assert all(not c.final and c.usage is None for c in chunks)
    assert all(ch.finish_reason is None for c in chunks for ch in c.choices)
    assert [e.sequence for e in events.published] == list(range(len(events.published)))
    assert only_final(events) is final and final.choices[0].finish_reason == "stop"
    streamed = "".join(ch.text for e in events.published for ch in e.choices)
    assert streamed == ECHO
    assert final.usage is not None and final.usage.completion_tokens == len(ECHO.split())


async def test_n_2_gives_two_choices():
    inference, events = ports()
    await generate_completion(command(n=2), inference)

    event = only_final(events)
    assert [(c.index, c.text, c.finish_reason) for c in event.choices] == [(0, ECHO, "stop"), (1, ECHO, "stop")]
    assert event.usage is not None and event.usage.completion_tokens == 2 * len(ECHO.split())


async def test_max_tokens_truncates_with_finish_reason_length():
    inference, events = ports()
    await generate_completion(command(max_tokens=3), inference)

    event = only_final(events)
    assert event.choices[0].text == "You said: the"
    assert event.choices[0].finish_reason == "length"
    assert event.usage is not None and event.usage.completion_tokens == 3


async def test_unknown_model_gives_a_final_404_event():
    inference, events = ports()
    await generate_completion(command(model="gpt-unknown"), inference)

    event = only_final(events)
    assert len(events.published) == 1
    assert event.error is not None and event.error.status == 404
    assert "gpt-unknown" in event.error.message
    assert event.choices == [] and event.usage is None


async def test_engine_refusal_gives_a_final_400_event_naming_the_param():
    inference, events = ports(RefusingEngine())
    await generate_completion(command(), inference)

    event = only_final(events)
    assert event.error is not None
    assert (event.error.status, event.error.param) == (400, "logit_bias")
    assert "vocabulary" in event.error.message
    assert event.choices == []


async def test_refusal_mid_stream_ends_the_stream_with_the_error():
    inference, events = ports(RefusingEngine())
    await generate_completion(command(stream=True), inference)

    *chunks, final = events.published
    assert [c.choices[0].text for c in chunks] == ["partial"]
    assert final.final and final.error is not None and final.error.status == 400
    assert final.sequence == len(chunks)


class StartingEngine(RefusingEngine):
    """An engine whose adapter engine is still being built when the request arrives."""

    def __init__(self) -> None:
        self.warmed: list[str] = []

    async def generate(self, request: GenerateCompletion) -> AsyncIterator[EngineStep]:
        raise EngineStarting("engine m+adapters is starting", retry_after_s=30)
        yield  # an async generator, as the real engine's

    def warm_adapters(self, base_model: str) -> bool:
        self.warmed.append(base_model)
        return base_model == MODEL


async def test_an_engine_still_starting_gives_a_final_503_with_a_retry_after():
    inference, events = ports(StartingEngine())
    await generate_completion(command(stream=True), inference)

    event = only_final(events)
    assert event.error is not None
    assert (event.error.status, event.error.code, event.error.retry_after_s) == (503, "engine_starting", 30)
    assert "retry in 30 s" in event.error.message and event.choices == []


async def test_a_queued_fine_tuning_job_warms_every_chat_engine_that_runs_adapters():
    from contracts.tuning_jobs import Hyperparameters, TrainFineTuningJob

    engines = [StartingEngine(), EchoEngine([MODEL]), StartingEngine()]  # the echo engine runs no adapters
    job = TrainFineTuningJob(**envelope(), job_id="ftjob-0123456789abcdef01234567", model=MODEL,
                             training_file="file-0123456789abcdef01234567", seed=7,
                             hyperparameters=Hyperparameters(n_epochs=1, batch_size=1, learning_rate_multiplier=1.0),
                             fine_tuned_model=f"{MODEL}.ft-0123456789abcdef01234567")
    await warm_adapter_engine(job, engines)
    assert engines[0].warmed == engines[2].warmed == [MODEL]


async def test_cancel_generation_aborts_a_running_generation():
    engine = EchoEngine([MODEL], delay_per_token_s=0.01)
    inference, events = ports(engine)
    long_prompt = " ".join(f"word{i}" for i in range(200))
    cmd = GenerateCompletion(**envelope(), model=MODEL, messages=chat(("user", long_prompt)),
                             sampling=sampling(), stream=True)
    running = asyncio.create_task(generate_completion(cmd, inference))
    while not events.published:  # wait until generation is under way
        await asyncio.sleep(0.005)

    await cancel_generation(CancelGeneration(**envelope(), reason="client_disconnected"), inference)
    await asyncio.wait_for(running, timeout=5)

    final = only_final(events)
    assert final.choices[0].finish_reason == "abort"
    assert final.usage is not None and final.usage.completion_tokens < 200
    streamed = "".join(ch.text for e in events.published for ch in e.choices)
    assert ("You said: " + long_prompt).startswith(streamed) and len(streamed) < len(long_prompt)


async def test_cancel_of_a_request_not_running_here_changes_nothing():
    engine = EchoEngine([MODEL])
    inference, events = ports(engine)
    await cancel_generation(CancelGeneration(**envelope(), reason="timeout"), inference)
    await generate_completion(command(), inference)

    assert only_final(events).choices[0].finish_reason == "stop"
    assert only_final(events).choices[0].text == ECHO


async def test_the_first_token_goes_out_at_once_then_tokens_are_grouped_by_count():
    inference, events = ports(stream=StreamPolicy(tokens=3, window_s=60.0))
    await generate_completion(command(stream=True), inference)  # ECHO is 7 words, one token each

    *chunks, final = events.published
    assert [len(c.choices[0].text.split()) for c in chunks] == [1, 3]  # the last 3 ride on the final event
    assert "".join(c.choices[0].text for c in chunks) + final.choices[0].text == ECHO


async def test_every_event_of_one_run_carries_one_attempt_id_and_a_second_run_another():
    inference, events = ports()
    await generate_completion(command(stream=True), inference)
    first = {e.attempt_id for e in events.published}
    await generate_completion(command(stream=True), inference)  # delivered again: another run
    second = {e.attempt_id for e in events.published} - first

    assert len(first) == 1 and None not in first
    assert len(second) == 1 and second != first
