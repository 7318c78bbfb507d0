"""The control plane's rule for fine-tuned deployments: a deployment may name as its ``adapter``
only a fine-tuned model of its own resource, trained on the deployment's base model."""

from __future__ import annotations

from fastapi import Request

from services.gateway.errors import InvalidRequest
from services.gateway.resources import Resource
from services.gateway.tuning_edge import TuningEdge


async def check_fine_tuned_adapters(request: Request, resource: Resource) -> None:
    """Raises a 400 naming the deployment whose adapter is not one of the resource's own models."""
    edge: TuningEdge = request.app.state.tuning
    for index, deployment in enumerate(resource.deployments):
        if deployment.adapter is None:
            continue
        model = await edge.catalog.get_model(resource.resource_id, deployment.adapter)
        if model is None or model.base_model != deployment.model:
            raise InvalidRequest(
                f"Deployment '{deployment.name}': '{deployment.adapter}' is not a fine-tuned model of resource "
                f"'{resource.resource_id}' on base model '{deployment.model}'.",
                param=f"deployments.[{index}].adapter", code="invalid_adapter")
