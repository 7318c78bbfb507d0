"""Tuning's subscribers: the region's file messages (one group; keyed by file, so one file's
chunks arrive in order) and its fine-tuning jobs (another group, so a job training for minutes
never holds up uploads). A job trains inside its handler, its offset committed after it ends;
the consumer's poll interval is raised to the longest job so a long job is not taken for a hung
consumer. A restart mid-job redelivers the message and services/tuning/jobs.py fails the job
cleanly instead of training it twice. Beside them runs the orphan sweep (services/tuning/orphans.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from faststream import FastStream
from pydantic import TypeAdapter

from contracts import tuning_files, tuning_jobs, tuning_model_deletions
from contracts.tuning_files import FileMessage
from contracts.tuning_jobs import TrainFineTuningJob
from contracts.tuning_model_deletions import DeleteFineTunedModel
from services.runtime.bus import RawMessage
from services.runtime.service_app import ServiceWiring
from services.tuning.bootstrap import bootstrap
from services.tuning.handlers import handle_file_message
from services.tuning.jobs import delete_model, run_job
from services.tuning.orphans import sweep_periodically
from services.tuning.settings import TuningSettings

FILE_MESSAGE: TypeAdapter[FileMessage] = TypeAdapter(FileMessage)


def create_app(settings: TuningSettings, **overrides: Any) -> FastStream:
    tuning = bootstrap(settings, **overrides)
    wiring = ServiceWiring("tuning", settings, tuning.broker)

    # Every subscriber here is quiet: a file, a job or a deletion waits at most the quiet fetch wait
    # before it is picked up, and the idle service does not fetch 150 times a second.
    @wiring.group_subscriber(tuning_files.TOPIC, "tuning-files", quiet=True)
    async def on_file_message(message: RawMessage) -> None:
        await handle_file_message(FILE_MESSAGE.validate_json(message.body), tuning.files)

    @wiring.group_subscriber(tuning_jobs.TOPIC, "tuning-jobs", quiet=True,
                             max_poll_interval_ms=(settings.max_job_s + 300) * 1000)
    async def on_job(job: TrainFineTuningJob) -> None:
        await run_job(job, tuning.jobs)

    @wiring.group_subscriber(tuning_model_deletions.TOPIC, "tuning-models", quiet=True)
    async def on_model_deleted(command: DeleteFineTunedModel) -> None:
        await delete_model(command, tuning.jobs)

    sweeps: list[asyncio.Task[None]] = []

    async def create_indexes() -> None:
        for store in tuning.stores:
            create = getattr(store, "create_indexes", None)
            if create is not None:
                await create()

    async def start_sweep() -> None:
        sweeps.append(asyncio.create_task(sweep_periodically(tuning.orphans, settings.orphan_sweep_interval_s)))

    async def stop_sweep_and_close() -> None:
        for task in sweeps:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for close in tuning.closers:
            await close()

    return wiring.app(on_startup=[create_indexes], after_startup=[start_sweep], after_shutdown=[stop_sweep_and_close])
