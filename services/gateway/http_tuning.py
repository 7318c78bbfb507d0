"""Adds the files, fine-tuning and model-deletion routes to the public app (one call from services/gateway/app.py)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from services.gateway.bootstrap import Gateway
from services.gateway.http_files import files_router
from services.gateway.http_models import models_router
from services.gateway.http_tuning_jobs import jobs_router
from services.gateway.settings import GatewaySettings
from services.gateway.tuning_edge import TuningEdge, build_tuning_edge


def include_tuning_routes(app: FastAPI, gateway: Gateway, settings: GatewaySettings,
                          catalog: Any = None, publisher: Any = None) -> TuningEdge:
    edge = build_tuning_edge(settings, broker=gateway.broker, inbox=gateway.inbox, region=settings.region,
                             replica_id=settings.replica_id, mongo_uri=settings.mongo_uri,
                             store_timeout_ms=settings.store_timeout_ms, catalog=catalog,
                             publisher=publisher)
    app.include_router(files_router(gateway.ports, edge, settings))
    app.include_router(jobs_router(gateway.ports, edge, settings))
    app.include_router(models_router(gateway.ports, edge, settings))
    app.state.tuning = edge
    return edge
