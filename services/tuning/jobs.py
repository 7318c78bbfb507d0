"""A fine-tuning job, from claim to sealed adapter: a plain function of (message, ports).

The job's record is its state. A worker claims it (``queued`` -> ``running``, atomically); a
message delivered again (a restart before the commit, a rebalance) finds it claimed or finished:

- finished or cancelled: nothing happens (never trained twice);
- running with a fresh heartbeat: another worker has it; nothing happens;
- running with a heartbeat older than ``stale_after_s``: the worker that had it stopped mid-way;
  the job fails cleanly (``worker_restarted``) and its owner may create it again.

While training, every step refreshes the heartbeat and records a metrics event; a job cancelled
meanwhile (its owner's cancel writes "The job was cancelled", services/tuning_catalog/events.py)
stops at its next step. Success stores the adapter sealed (its own data key), then the
model's record, a checkpoint and the results file (``step_metrics.csv``, purpose
``fine-tune-results``: one row per step, OpenAI's columns, sealed under the files key like an
upload), then marks the job succeeded naming that file in ``result_files``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from contracts.tuning_jobs import TrainFineTuningJob
from contracts.tuning_model_deletions import DeleteFineTunedModel
from services.tuning.errors import TrainingFailed, require_region
from services.tuning.ports import StepReport, TrainedAdapter, Trainer, TrainingMessage, TrainingPlan
from services.tuning.shredding import shred_file, shred_model
from services.tuning_catalog.errors import ContentGone
from services.tuning_catalog.events import JobEvents
from services.tuning_catalog.model import (
    FINISHED,
    Checkpoint,
    FileRecord,
    FineTunedModel,
    JobError,
    adapter_object,
    new_file_id,
)
from services.tuning_catalog.ports import TuningCatalog
from services.tuning_catalog.vault import TuningVault

log = logging.getLogger("residency.tuning.jobs")
ADAPTER_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class JobPorts:
    catalog: TuningCatalog
    vault: TuningVault  # files: the files key
    adapters: TuningVault  # trained adapters: the adapters key, which inference holds too
    trainer: Trainer
    clock: Callable[[], datetime]
    worker_id: str
    stale_after_s: float
    base_models: Mapping[str, str]
    region: str


async def run_job(message: TrainFineTuningJob, ports: JobPorts) -> None:
    require_region(message.region, ports.region)
    resource, job_id = message.resource_id, message.job_id
    job = await ports.catalog.claim_job(resource, job_id, ports.worker_id, ports.clock())
    if job is None:
        await _not_claimed(message, ports)
        return
    events = JobEvents(ports.catalog, resource, job_id, ports.clock)
    await events.add(f"Fine-tuning job started on {message.model}")
    steps: list[StepReport] = []
    try:
        plan = await load_plan(message, ports)
        await events.add(f"Files validated: {len(plan.examples)} training examples")
        trained = await _train(message, plan, ports, events, steps)
    except (TrainingFailed, ContentGone) as error:
        await _fail(message, ports, events, "invalid_training_file" if isinstance(error, ContentGone) else
                    "training_failed", str(error))
        return
    except Exception as error:  # noqa: BLE001 -- a job must end; its record would otherwise stay "running" for ever
        log.error("job %s of %s: training failed (%s)", job_id, resource, type(error).__name__)
        await _fail(message, ports, events, "training_failed", "Training failed on the worker; create the job again.")
        return
    if trained is None:
        log.info("job %s of %s cancelled during training", job_id, resource)  # its event is the canceller's
        return
    await _store_result(message, trained, steps, ports, events)


async def delete_model(message: DeleteFineTunedModel, ports: JobPorts) -> None:
    """The owner deleted the model (its record is hidden already): key first, then chunks, then record."""
    require_region(message.region, ports.region)
    await shred_model(ports.adapters, ports.catalog, message.resource_id, message.model)
    log.info("model %s of %s shredded", message.model, message.resource_id)


async def _not_claimed(message: TrainFineTuningJob, ports: JobPorts) -> None:
    current = await ports.catalog.get_job(message.resource_id, message.job_id)
    if current is None or current.status in FINISHED or current.status != "running":
        log.info("job %s of %s: already %s", message.job_id, message.resource_id,
                 "gone" if current is None else current.status)
        return
    beat = current.heartbeat_at or current.started_at
    if beat is not None and (ports.clock() - beat).total_seconds() < ports.stale_after_s:
        log.info("job %s of %s is running on %s", message.job_id, message.resource_id, current.worker)
        return
    events = JobEvents(ports.catalog, message.resource_id, message.job_id, ports.clock)
    if await events.closing(
            [("The tuning worker stopped during training; the job failed", "error")],
            lambda: ports.catalog.finish_job(message.resource_id, message.job_id, current.worker, "failed",
                                             ports.clock(), error=JobError(code="worker_restarted", message=(
                                                 "The tuning worker stopped during training; create the job again.")))):
        log.warning("job %s of %s: its worker stopped mid-way; failed", message.job_id, message.resource_id)


async def load_plan(message: TrainFineTuningJob, ports: JobPorts) -> TrainingPlan:
    resource = message.resource_id
    files = [message.training_file] + ([message.validation_file] if message.validation_file else [])
    parsed = []
    for file_id in files:
        record = await ports.catalog.get_file(resource, file_id)
        # The gateway names only fine-tune files in a job; a results file (fine-tune-results) is
        # refused here too, whoever published the job.
        if record is None or record.status != "processed" or record.purpose != "fine-tune":
            raise ContentGone(f"the file {file_id} is not a processed training file of this resource")
        parsed.append(parse_examples(await ports.vault.read_all(resource, file_id)))
    if message.model not in ports.base_models:
        raise TrainingFailed(f"the model {message.model!r} cannot be fine-tuned here")
    h = message.hyperparameters
    return TrainingPlan(base_model=message.model, examples=parsed[0], validation=parsed[1] if len(parsed) > 1 else [],
                        n_epochs=h.n_epochs, batch_size=h.batch_size,
                        learning_rate_multiplier=h.learning_rate_multiplier, seed=message.seed)


def parse_examples(content: bytes) -> list[list[TrainingMessage]]:
    """Examples of a file that validated (services/tuning/validation.py)."""
    examples = []
    for line in content.splitlines():
        if line.strip():
            messages = json.loads(line)["messages"]
            examples.append([TrainingMessage(m["role"], m["content"], learn=_learns(m)) for m in messages])
    return examples


def _learns(message: dict[str, object]) -> bool:
    return message["role"] == "assistant" and message.get("weight", 1) == 1


async def _train(message: TrainFineTuningJob, plan: TrainingPlan, ports: JobPorts, events: JobEvents,
                 steps: list[StepReport]) -> TrainedAdapter | None:
    loop = asyncio.get_running_loop()

    async def step_done(report: StepReport) -> bool:
        steps.append(report)
        # The heartbeat first: a job cancelled meanwhile gets no metrics event after its "cancelled".
        if not await ports.catalog.beat(message.resource_id, message.job_id, ports.worker_id, ports.clock()):
            return False
        await events.add(f"Step {report.step}/{report.total_steps}: training loss={report.train_loss:.4f}",
                         kind="metrics", data={"step": report.step, "train_loss": report.train_loss,
                                               "total_steps": report.total_steps, "tokens": report.tokens})
        return True

    def on_step(report: StepReport) -> bool:
        return asyncio.run_coroutine_threadsafe(step_done(report), loop).result()

    return await asyncio.to_thread(ports.trainer.train, plan, on_step)


async def _store_result(message: TrainFineTuningJob, trained: TrainedAdapter, steps: list[StepReport],
                        ports: JobPorts, events: JobEvents) -> None:
    resource, name = message.resource_id, message.fine_tuned_model
    stored_at = time.monotonic()
    obj = adapter_object(name)
    for sequence, start in enumerate(range(0, len(trained.archive), ADAPTER_CHUNK_BYTES)):
        await ports.adapters.put(resource, obj, sequence, trained.archive[start:start + ADAPTER_CHUNK_BYTES])
    now = ports.clock()
    await ports.catalog.put_model(FineTunedModel(name=name, resource_id=resource, job_id=message.job_id,
                                                 base_model=message.model, created_at=now, adapter_object=obj,
                                                 adapter_bytes=len(trained.archive)))
    metrics = {"step": float(trained.steps), "train_loss": trained.final_loss}
    if trained.valid_loss is not None:
        metrics["full_valid_loss"] = trained.valid_loss
    await ports.catalog.add_checkpoint(Checkpoint(
        checkpoint_id=f"ftckpt-{message.job_id.removeprefix('ftjob-')}-{trained.steps}", resource_id=resource,
        job_id=message.job_id, created_at=now, step_number=trained.steps, metrics=metrics,
        fine_tuned_model_checkpoint=name))
    results = await _store_results_file(resource, step_metrics_csv(steps, trained.valid_loss), ports)
    if not await events.closing(
            [(f"New fine-tuned model created: {name}", "info"), ("The job has successfully completed", "info")],
            lambda: ports.catalog.finish_job(resource, message.job_id, ports.worker_id, "succeeded", now,
                                             fine_tuned_model=name, trained_tokens=trained.trained_tokens,
                                             result_files=[results])):
        # Cancelled after the last step: the adapter is not the owner's to use; shred it, and the results.
        await shred_model(ports.adapters, ports.catalog, resource, name)
        await shred_file(ports.vault, ports.catalog, resource, results)
        return
    log.info("job %s of %s succeeded: %d steps, %d tokens in %.1f s (adapter sealed in %.2f s)", message.job_id,
             resource, trained.steps, trained.trained_tokens, trained.seconds, time.monotonic() - stored_at)


def step_metrics_csv(steps: list[StepReport], valid_loss: float | None) -> bytes:
    """OpenAI's results file: a row per step; validation figures only where Residency has them (the
    full validation loss, after the last step)."""
    rows = ["step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"]
    for index, report in enumerate(steps):
        last = index == len(steps) - 1 and valid_loss is not None
        rows.append(f"{report.step},{report.train_loss:.6f},,{f'{valid_loss:.6f}' if last else ''},")
    return ("\n".join(rows) + "\n").encode()


async def _store_results_file(resource_id: str, content: bytes, ports: JobPorts) -> str:
    """Sealed like an upload (the files key), then recorded ``processed``: the owner reads it as any file."""
    file_id = new_file_id()
    await ports.vault.put(resource_id, file_id, 0, content)
    await ports.catalog.insert_file(FileRecord(file_id=file_id, resource_id=resource_id, filename="step_metrics.csv",
                                               purpose="fine-tune-results", bytes=len(content),
                                               created_at=ports.clock(), status="processed"))
    return file_id


async def _fail(message: TrainFineTuningJob, ports: JobPorts, events: JobEvents, code: str, text: str) -> None:
    error = JobError(code=code, message=text)
    await events.closing([(f"The job failed: {text}", "error")],
                         lambda: ports.catalog.finish_job(message.resource_id, message.job_id, ports.worker_id,
                                                          "failed", ports.clock(), error=error))
    log.warning("job %s of %s failed: %s", message.job_id, message.resource_id, code)
