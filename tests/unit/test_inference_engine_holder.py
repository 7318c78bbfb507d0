"""EngineHolder builds an engine off the event loop, once for every caller waiting on it, and again
after a build that failed."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from services.inference.adapters.vllm_setup import EngineHolder
from services.inference.errors import EngineStarting, EngineUnavailable


class FakeEngine:
    def __init__(self, number: int) -> None:
        self.number = number
        self.shut = False
        self.errored = False

    def shutdown(self) -> None:
        self.shut = True


class Builds:
    def __init__(self, *, fail_first: bool = False, seconds: float = 0.2) -> None:
        self.count = 0
        self.threads: set[str] = set()
        self._fail_first = fail_first
        self._seconds = seconds

    def __call__(self) -> FakeEngine:
        self.count += 1
        self.threads.add(threading.current_thread().name)
        time.sleep(self._seconds)  # vLLM's from_engine_args blocks for tens of seconds
        if self._fail_first and self.count == 1:
            raise RuntimeError("Engine core initialization failed")
        return FakeEngine(self.count)


async def test_callers_arriving_during_a_build_share_it_and_the_loop_keeps_running():
    builds = Builds()
    holder = EngineHolder("adapters", builds)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    engines = await asyncio.gather(*(holder.started() for _ in range(5)))
    ticker.cancel()
    assert builds.count == 1 and {e.number for e in engines} == {1}
    assert threading.main_thread().name not in builds.threads
    assert ticks >= 5, "the event loop was blocked while the engine was built"
    assert await holder.started() is engines[0] and builds.count == 1


async def test_a_failed_build_fails_its_waiters_and_the_next_caller_builds_again():
    holder = EngineHolder("adapters", Builds(fail_first=True, seconds=0.01))
    results = await asyncio.gather(holder.started(), holder.started(), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results) and holder.engine is None
    assert (await holder.started()).number == 2


async def test_a_caller_that_gives_up_does_not_cancel_the_build():
    holder = EngineHolder("adapters", Builds(seconds=0.2))
    waiter = asyncio.create_task(holder.started())
    await asyncio.sleep(0.05)
    waiter.cancel()
    assert (await holder.started()).number == 1


async def test_close_waits_for_a_build_in_flight_and_shuts_its_engine_down():
    holder = EngineHolder("adapters", Builds(seconds=0.1))
    waiter = asyncio.create_task(holder.started())
    await asyncio.sleep(0.02)
    await holder.close()
    engine = await waiter
    assert engine is None or engine.shut
    assert holder.engine is None


async def test_a_dead_engine_is_shut_down_and_built_again():
    builds = Builds(seconds=0.01)
    holder = EngineHolder("base", builds)
    first = await holder.started()
    holder.restart()
    holder.restart()  # one restart at a time
    assert holder.engine is None
    second = await holder.started()
    assert first.shut and second.number == 2 and builds.count == 2


async def test_warm_starts_an_on_demand_build_without_waiting_and_requests_share_it():
    builds = Builds(seconds=0.2)
    holder = EngineHolder("adapters", builds, on_demand=True, wait_s=5)
    assert holder.warm() and holder.engine is None  # returned at once; the build runs
    assert not holder.warm()  # one build at a time
    engine = await holder.for_request()
    assert engine.number == 1 and builds.count == 1
    assert not holder.warm()  # already running


async def test_warm_leaves_an_engine_built_at_start_alone():
    holder = EngineHolder("base", Builds(seconds=0.01))
    assert not holder.warm() and holder._building is None


async def test_a_request_waits_for_a_build_at_most_wait_s_then_is_told_to_retry_and_the_build_goes_on():
    holder = EngineHolder("adapters", Builds(seconds=0.4), on_demand=True, wait_s=0.05, retry_after_s=7)
    with pytest.raises(EngineStarting) as starting:
        await holder.for_request()
    assert starting.value.retry_after_s == 7
    await asyncio.sleep(0.5)
    assert holder.engine is not None and (await holder.for_request()).number == 1


async def test_a_warm_build_that_fails_is_built_again_by_the_next_request():
    builds = Builds(fail_first=True, seconds=0.01)
    holder = EngineHolder("adapters", builds, on_demand=True, wait_s=5)
    assert holder.warm()
    await asyncio.sleep(0.1)
    assert holder.engine is None
    assert (await holder.for_request()).number == 2


async def test_an_engine_found_dead_while_idle_is_rebuilt_by_warm_or_by_the_next_request():
    builds = Builds(seconds=0.01)
    holder = EngineHolder("adapters", builds, on_demand=True, wait_s=5)
    first = await holder.for_request()
    first.errored = True  # vLLM's monitor saw its core process die (the test suite's kill, an OOM)
    assert holder.warm()
    second = await holder.for_request()
    assert first.shut and second.number == 2
    second.errored = True
    third = await holder.for_request()  # no warm: the request itself restarts it, and waits
    assert second.shut and third.number == 3


async def test_a_dead_engine_built_at_start_fails_the_request_fast_and_restarts():
    holder = EngineHolder("base", Builds(seconds=0.05))
    first = await holder.started()
    first.errored = True
    with pytest.raises(EngineUnavailable):
        await holder.for_request()
    assert (await holder.started()).number == 2 and first.shut
