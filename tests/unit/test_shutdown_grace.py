"""The drain deadlines of SIGTERM fit in the pods' grace period (deploy/k8s), so Kubernetes never
kills a service that is still finishing, publishing or committing work in flight."""

from __future__ import annotations

from pathlib import Path

import yaml

from services.gateway.settings import GatewaySettings
from services.inference.settings import InferenceSettings
from services.runtime.settings import HANDLER_GRACE_S, SHUTDOWN_GRACE_S, TERMINATION_GRACE_S

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "base"
SERVICES = ("filter", "gateway", "inference", "retention", "retrieval")


def test_every_service_pod_has_the_grace_period_the_drain_deadlines_fit_in() -> None:
    assert SHUTDOWN_GRACE_S + HANDLER_GRACE_S < TERMINATION_GRACE_S
    for service in SERVICES:
        [deployment] = [d for d in yaml.safe_load_all((K8S / f"{service}.yaml").read_text())
                        if d and d["kind"] == "Deployment"]
        pod = deployment["spec"]["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] == TERMINATION_GRACE_S, service
        env = {e["name"]: e.get("value") for c in pod["containers"] for e in c.get("env", [])}
        assert not any(name.endswith("_SHUTDOWN_GRACE_S") for name in env), f"{service} overrides the deadline"


def test_services_read_the_drain_deadline_from_their_settings() -> None:
    assert InferenceSettings().shutdown_grace_s == SHUTDOWN_GRACE_S
    gateway = GatewaySettings(admin_key="k" * 40)
    assert gateway.shutdown_grace_s == SHUTDOWN_GRACE_S
