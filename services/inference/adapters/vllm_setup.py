"""What every vLLM engine of this service shares: environment, engine arguments, stats.

vLLM reads some settings from the environment, and reads them at import: ``prepare_environment``
runs before the first vLLM import. Nothing here makes a network call: usage statistics and hub
access are off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.inference.errors import EngineStarting, EngineUnavailable
from services.inference.model_files import CHAT_MODEL, EMBEDDING_MODEL, embedding_model_dir, prepare_chat_model
from services.inference.settings import EngineOptions

log = logging.getLogger("residency.inference.engine")


def prepare_environment(options: EngineOptions, work_dir: Path) -> None:
    work_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update({
        "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
        "VLLM_CACHE_ROOT": str(work_dir.resolve()),
        "VLLM_CPU_KVCACHE_SPACE": str(options.cpu_kv_cache_gib),
    })
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")


def resolve_model(value: str) -> str:
    """A folder, or ``packaged:<name>`` for the models shipped in PyPI packages."""
    if value == f"packaged:{CHAT_MODEL}":
        return str(prepare_chat_model())
    if value == f"packaged:{EMBEDDING_MODEL}":
        return str(embedding_model_dir())
    if value.startswith("packaged:"):
        raise SystemExit(f"no packaged model {value!r}; packaged: {CHAT_MODEL}, {EMBEDDING_MODEL}")
    return value


def engine_args(model_dir: str, options: EngineOptions, *, pooling: bool, adapters: bool | None = None) -> Any:
    """``adapters``: this engine serves LoRA adapters; None: as the base model's engine does."""
    from vllm.engine.arg_utils import AsyncEngineArgs

    args: dict[str, Any] = {
        "model": model_dir, "dtype": options.dtype, "enforce_eager": options.enforce_eager,
        "max_num_seqs": options.max_num_seqs,
        "enable_log_requests": False,  # request logs would carry prompts
        "disable_log_stats": False,
    }
    if options.max_num_batched_tokens:
        args["max_num_batched_tokens"] = options.max_num_batched_tokens
    if options.device == "gpu":
        args.update(tensor_parallel_size=options.tensor_parallel_size,
                    gpu_memory_utilization=options.gpu_memory_utilization)
    if pooling:
        args["runner"] = "pooling"  # its context length is the model's own (256 for MiniLM)
    else:
        args["max_model_len"] = options.max_model_len
    if not pooling and (options.base_engine_lora if adapters is None else adapters):
        args.update(enable_lora=True, max_loras=options.max_loras, max_lora_rank=options.max_lora_rank)
    return AsyncEngineArgs(**args)


class BusyStats:
    """Keeps the scheduler's running/waiting counts and logs them (no content) while busy."""

    def __init__(self, name: str, interval_s: float) -> None:
        self.name = name
        self.interval_s = interval_s
        self.peak_running = 0
        self._last_log = 0.0

    def record(self, running: int, waiting: int) -> None:
        self.peak_running = max(self.peak_running, running)
        now = time.monotonic()
        if running and now - self._last_log >= self.interval_s:
            self._last_log = now
            log.info("engine %s: running=%d waiting=%d peak_running=%d", self.name, running, waiting,
                     self.peak_running)

    def factory(self) -> Any:
        """A vLLM stat-logger factory feeding this object."""
        from vllm.v1.metrics.loggers import StatLoggerBase

        from services.inference.telemetry import record_scheduler

        stats = self

        class _Logger(StatLoggerBase):
            def __init__(self, vllm_config: Any, engine_index: int = 0) -> None:
                pass

            def record(self, scheduler_stats: Any, iteration_stats: Any, mm_cache_stats: Any = None,
                       engine_idx: int = 0) -> None:
                record_scheduler(stats.name, scheduler_stats, iteration_stats)
                if scheduler_stats is not None:
                    stats.record(scheduler_stats.num_running_reqs, scheduler_stats.num_waiting_reqs)

            def log_engine_initialized(self) -> None:
                pass

        return _Logger


class EngineHolder:
    """Owns one ``AsyncLLM``: builds it (in a worker thread: the loop serves meanwhile), shuts it down,
    and builds it again after it died. Callers that need it while it is being built wait for the same
    build; a build that failed is tried again by the next caller. ``on_demand``: built when first
    needed (the adapter engine) instead of at start: by ``warm`` (a fine-tuning job for its model was
    queued) or else by the first request that names an adapter. A request waits for a build at most
    ``wait_s``; then it is refused with EngineStarting (503, Retry-After) and the build goes on, so no
    caller outlives its reply deadline waiting for an engine (about a minute on 2 CPU cores)."""

    def __init__(self, name: str, build: Callable[[], Any], *, on_demand: bool = False,
                 wait_s: float = 30.0, retry_after_s: int = 10) -> None:
        self.name = name
        self._build = build
        self.on_demand = on_demand
        self.wait_s = wait_s
        self.retry_after_s = retry_after_s
        self.engine: Any = None
        self._building: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.started()

    async def started(self) -> Any:
        """The engine, built first if it is not running."""
        if self.engine is not None:
            return self.engine
        await asyncio.shield(self._build_task())  # a caller that gives up does not cancel the build
        return self.engine

    def _build_task(self) -> asyncio.Task[None]:
        """The build (or restart) under way, or a new one."""
        if self._building is None or self._building.done():
            self._building = asyncio.get_running_loop().create_task(self._build_now())
        return self._building

    def _alive(self) -> Any:
        """The engine, unless there is none or vLLM's monitor found its core process dead (killed,
        out of memory) while it was idle: that engine is restarted here, not by the request that
        would otherwise fail on it."""
        engine = self.engine
        if engine is not None and getattr(engine, "errored", False):
            self.restart()
            return None
        return engine

    def warm(self) -> bool:
        """Start building an on-demand engine (or restarting a dead one) without waiting for it; True
        if a build began now."""
        if not self.on_demand or self._build_running() or self._alive() is not None:
            return False
        self._build_task().add_done_callback(self._log_failed_warm)  # the restart _alive began, or a build
        log.info("engine %s: building ahead of its first request", self.name)
        return True

    def _build_running(self) -> bool:
        return self._building is not None and not self._building.done()

    def _log_failed_warm(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:  # the next request builds again
            log.error("engine %s could not start: %s", self.name, type(task.exception()).__name__)

    async def for_request(self) -> Any:
        """The engine a request runs on: an engine built at start fails fast while it restarts, one
        built on demand is built (or awaited, at most ``wait_s``) first; EngineUnavailable when there
        is none, EngineStarting when it is still being built."""
        engine = self._alive()
        if self.on_demand and engine is None:
            try:
                engine = await asyncio.wait_for(self.started(), self.wait_s)
            except TimeoutError:
                raise EngineStarting(f"engine {self.name} is starting",
                                     retry_after_s=self.retry_after_s) from None
            except Exception as error:  # noqa: BLE001 - why it failed is logged by type; the caller gets a 503
                log.error("engine %s could not start: %s", self.name, type(error).__name__)
        if engine is None:
            raise EngineUnavailable(f"engine {self.name} is restarting")
        return engine

    async def _build_now(self) -> None:
        started = time.monotonic()
        self.engine = await asyncio.to_thread(self._build)
        log.info("engine %s started in %.1f s", self.name, time.monotonic() - started)

    async def close(self) -> None:
        if self._building is not None and not self._building.done():
            with contextlib.suppress(Exception):
                await self._building  # an engine half built would outlive us otherwise
        if self.engine is not None:
            self.engine.shutdown()
            self.engine = None

    def restart(self) -> None:
        """After an EngineDeadError: requests fail until the new engine is up; one restart at a time."""
        if self._build_running():
            return
        dead, self.engine = self.engine, None
        self._building = asyncio.get_running_loop().create_task(self._start_again(dead))

    async def _start_again(self, dead: Any) -> None:
        log.error("engine %s died; restarting it", self.name)
        if dead is not None:
            await asyncio.to_thread(dead.shutdown)
        await self._build_now()
