"""Fine-tuning jobs API, both path styles (``/openai/fine_tuning/jobs?api-version=...`` and
``/v1/fine_tuning/jobs``): create, list, retrieve, cancel, events, checkpoints, in OpenAI's shapes.

Creating a job checks its files (the caller's own, processed), resolves ``auto`` hyperparameters,
writes the job's record (``queued``) and publishes it on ``{region}.tuning.jobs.v1``; the region's
tuning worker trains it. Every lookup names the caller's resource: another's job is a 404.
"""

from __future__ import annotations

import math
import re
import secrets
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.base import INT64_MAX, utc_now
from contracts.tuning_jobs import JOB_ID_PATTERN, TrainFineTuningJob
from contracts.tuning_jobs import Hyperparameters as HyperparametersMessage
from services.gateway.errors import InvalidRequest, NotFound
from services.gateway.handlers import GatewayPorts
from services.gateway.http_files import caller, envelope
from services.gateway.json_body import read_json
from services.gateway.openai_request import validated
from services.gateway.resources import Resource
from services.gateway.route_binding import bind, bind_id
from services.gateway.settings import GatewaySettings
from services.gateway.tuning_edge import TuningEdge
from services.tuning_catalog.events import cancel_job
from services.tuning_catalog.model import FileRecord, Hyperparameters, JobRecord, fine_tuned_model_name, new_job_id

AUTO_TARGET_STEPS = 30  # "auto" epochs aim at this many steps, within 3..10 epochs


class HyperparametersBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    n_epochs: Literal["auto"] | int = Field("auto", description="Passes over the training file (1-50).")
    batch_size: Literal["auto"] | int = Field("auto", description="Examples per step (1-64).")
    learning_rate_multiplier: Literal["auto"] | float = Field("auto", description="Learning-rate multiplier (0-10].")


class SupervisedBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    hyperparameters: HyperparametersBody = Field(default_factory=HyperparametersBody)


class MethodBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["supervised"] = Field(description="Only supervised fine-tuning is offered.")
    supervised: SupervisedBody = Field(default_factory=SupervisedBody)


class JobCreateBody(BaseModel):
    """``POST .../fine_tuning/jobs``; unknown fields are ignored (the edge is tolerant)."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=64)
    training_file: str = Field(min_length=1, max_length=64)
    validation_file: str | None = Field(None, min_length=1, max_length=64)
    hyperparameters: HyperparametersBody | None = None
    method: MethodBody | None = None
    suffix: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    seed: int | None = Field(None, ge=0, le=INT64_MAX)


def job_object(job: JobRecord) -> dict[str, Any]:
    h = job.hyperparameters.model_dump()
    return {
        "id": job.job_id, "object": "fine_tuning.job", "created_at": int(job.created_at.timestamp()),
        "finished_at": int(job.finished_at.timestamp()) if job.finished_at else None,
        "model": job.model, "fine_tuned_model": job.fine_tuned_model, "organization_id": job.resource_id,
        "result_files": job.result_files, "status": job.status, "validation_file": job.validation_file,
        "training_file": job.training_file, "trained_tokens": job.trained_tokens, "seed": job.seed,
        "suffix": job.suffix, "estimated_finish": None, "integrations": None,
        "hyperparameters": h, "method": {"type": "supervised", "supervised": {"hyperparameters": h}},
        "error": None if job.error is None else job.error.model_dump(),
    }


def parse_body(body: dict[str, Any]) -> JobCreateBody:
    result: JobCreateBody = validated(JobCreateBody, body)
    return result


def resolve(h: HyperparametersBody, examples: int) -> Hyperparameters:
    n_epochs = h.n_epochs if h.n_epochs != "auto" else max(3, min(10, math.ceil(AUTO_TARGET_STEPS / max(examples, 1))))
    batch = h.batch_size if h.batch_size != "auto" else 1
    rate = h.learning_rate_multiplier if h.learning_rate_multiplier != "auto" else 1.0
    try:
        checked = HyperparametersMessage(n_epochs=n_epochs, batch_size=batch, learning_rate_multiplier=rate)
    except ValidationError as error:
        first = error.errors()[0]
        param = f"hyperparameters.{first['loc'][0]}"
        raise InvalidRequest(f"Invalid value for '{param}': {first['msg']}.", param=param) from None
    return Hyperparameters(**checked.model_dump())


async def usable_file(edge: TuningEdge, resource: Resource, file_id: str, param: str) -> FileRecord:
    record = await edge.catalog.get_file(resource.resource_id, file_id) if re.fullmatch(
        r"^file-[0-9a-f]{24}$", file_id) else None
    if record is None:
        raise InvalidRequest(f"Invalid file ID '{file_id}': no such file.", param=param, code="invalid_file")
    if record.purpose != "fine-tune" or record.status != "processed":
        detail = f" ({record.status_details})" if record.status_details else ""
        raise InvalidRequest(f"File '{file_id}' is not ready for fine-tuning: its status is {record.status}{detail}.",
                             param=param, code="file_not_ready")
    return record


async def create_job(request: Request, resource: Resource, edge: TuningEdge, max_body_bytes: int) -> dict[str, Any]:
    body = parse_body(await read_json(request, max_body_bytes))
    if body.model not in edge.settings.tunable_models:
        raise InvalidRequest(f"The model '{body.model}' cannot be fine-tuned here; available: "
                             f"{', '.join(edge.settings.tunable_models)}.", param="model", code="model_not_available")
    training = await usable_file(edge, resource, body.training_file, "training_file")
    if body.validation_file:
        await usable_file(edge, resource, body.validation_file, "validation_file")
    wanted = body.method.supervised.hyperparameters if body.method else body.hyperparameters or HyperparametersBody()
    hyperparameters = resolve(wanted, training.examples or 0)
    job_id = new_job_id()
    seed = body.seed if body.seed is not None else secrets.randbelow(1 << 31)
    job = JobRecord(job_id=job_id, resource_id=resource.resource_id, model=body.model,
                    training_file=body.training_file, validation_file=body.validation_file,
                    hyperparameters=hyperparameters, seed=seed, suffix=body.suffix,
                    fine_tuned_model_name=fine_tuned_model_name(body.model, job_id), created_at=utc_now())
    await edge.catalog.insert_job(job)
    await edge.jobs.publish(TrainFineTuningJob(
        **envelope(request, resource, edge), job_id=job_id, model=body.model, training_file=body.training_file,
        validation_file=body.validation_file, seed=seed, fine_tuned_model=job.fine_tuned_model_name,
        hyperparameters=HyperparametersMessage(**hyperparameters.model_dump())))
    return job_object(job)


async def own_job(edge: TuningEdge, resource: Resource, job_id: str) -> JobRecord:
    job = await edge.catalog.get_job(resource.resource_id, job_id) if re.fullmatch(JOB_ID_PATTERN, job_id) else None
    if job is None:
        raise NotFound(f"No such fine-tuning job: {job_id}", param="fine_tuning_job_id", code="not_found")
    return job


def page(items: list[dict[str, Any]], request: Request) -> dict[str, Any]:
    """OpenAI's cursor pages: ``after`` (an ID on the previous page) and ``limit``, newest first."""
    try:
        limit = int(request.query_params.get("limit", "20"))
    except ValueError:
        raise InvalidRequest("'limit' must be an integer.", param="limit") from None
    if not 1 <= limit <= 100:
        raise InvalidRequest("'limit' must be between 1 and 100.", param="limit")
    after = request.query_params.get("after")
    if after:
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1:] if after in ids else []
    return {"object": "list", "data": items[:limit], "has_more": len(items) > limit}


def event_object(event: Any) -> dict[str, Any]:
    return {"id": event.event_id, "object": "fine_tuning.job.event", "created_at": int(event.created_at.timestamp()),
            "level": event.level, "message": event.message, "type": event.type, "data": event.data or {}}


def checkpoint_object(c: Any) -> dict[str, Any]:
    return {"id": c.checkpoint_id, "object": "fine_tuning.job.checkpoint", "created_at": int(c.created_at.timestamp()),
            "fine_tuned_model_checkpoint": c.fine_tuned_model_checkpoint, "fine_tuning_job_id": c.job_id,
            "metrics": c.metrics, "step_number": c.step_number}


LISTED = 1000  # most jobs, events or checkpoints read for one page


def jobs_router(ports: GatewayPorts, edge: TuningEdge, settings: GatewaySettings) -> APIRouter:
    router = APIRouter()

    async def create(request: Request, azure: bool) -> Any:
        resource = await caller(request, ports, edge, azure, settings)
        return await create_job(request, resource, edge, settings.max_body_bytes)

    async def listing(request: Request, azure: bool) -> Any:
        resource = await caller(request, ports, edge, azure, settings)
        return page([job_object(j) for j in await edge.catalog.list_jobs(resource.resource_id, limit=LISTED)], request)

    async def retrieve(request: Request, job_id: str, azure: bool) -> Any:
        resource = await caller(request, ports, edge, azure, settings)
        return job_object(await own_job(edge, resource, job_id))

    async def cancel(request: Request, job_id: str, azure: bool) -> Any:
        resource = await caller(request, ports, edge, azure, settings)
        job = await own_job(edge, resource, job_id)
        cancelled = await cancel_job(edge.catalog, resource.resource_id, job_id, utc_now())
        if cancelled is None:
            raise InvalidRequest(f"Job {job_id} has already {job.status}; it cannot be cancelled.",
                                 param="fine_tuning_job_id", code="job_finished")
        return job_object(cancelled)

    async def events(request: Request, job_id: str, azure: bool) -> Any:
        resource = await caller(request, ports, edge, azure, settings)
        await own_job(edge, resource, job_id)
        found = await edge.catalog.list_events(resource.resource_id, job_id, limit=LISTED)
        return page([event_object(e) for e in found], request)

    async def checkpoints(request: Request, job_id: str, azure: bool) -> Any:
        resource = await caller(request, ports, edge, azure, settings)
        await own_job(edge, resource, job_id)
        found = await edge.catalog.list_checkpoints(resource.resource_id, job_id, limit=LISTED)
        return page([checkpoint_object(c) for c in found], request)

    for prefix, azure in (("/openai", True), ("/v1", False)):
        style = "azure" if azure else "openai"
        base = f"{prefix}/fine_tuning/jobs"
        one = base + "/{job_id}"
        router.add_api_route(base, bind(create, azure), methods=["POST"], name=f"{style}_create_job")
        router.add_api_route(base, bind(listing, azure), methods=["GET"], name=f"{style}_list_jobs")
        router.add_api_route(one, bind_id(retrieve, azure, "job_id"), methods=["GET"], name=f"{style}_retrieve_job")
        router.add_api_route(one + "/cancel", bind_id(cancel, azure, "job_id"), methods=["POST"],
                             name=f"{style}_cancel_job")
        router.add_api_route(one + "/events", bind_id(events, azure, "job_id"), methods=["GET"],
                             name=f"{style}_job_events")
        router.add_api_route(one + "/checkpoints", bind_id(checkpoints, azure, "job_id"), methods=["GET"],
                             name=f"{style}_job_checkpoints")
    return router

