"""EngineHolder builds an engine off the event loop, once for every caller waiting on it, and again
after a build that failed."""

from __future__ import annotations

import asyncio
import threading
import time

from services.inference.adapters.vllm_setup import EngineHolder


class FakeEngine:
    def __init__(self, number: int) -> None:
        self.number = number
        self.shut = False

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
