"""What `just k8s-check`'s smoke run changes in the shipped Deployments for podman 4.3
(deploy/podman/k8s_smoke.py): every pod gets emptyDir volumes of its own, and vLLM's /dev/shm
comes from podman's tmpfs at the manifest's size instead of an on-disk emptyDir folder."""

from __future__ import annotations

import importlib.util
import tomllib
from types import ModuleType

import yaml

from tests.conftest import ROOT

BASE = ROOT / "deploy" / "k8s" / "base"


def smoke() -> ModuleType:
    spec = importlib.util.spec_from_file_location("k8s_smoke", ROOT / "deploy" / "podman" / "k8s_smoke.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def deployment(service: str) -> dict:
    [found] = [d for d in yaml.safe_load_all((BASE / f"{service}.yaml").read_text()) if d and d["kind"] == "Deployment"]
    return found


def volumes_of(pod: dict) -> set[str]:
    mounted = {m["name"] for c in pod["spec"]["containers"] for m in c.get("volumeMounts", [])}
    assert mounted <= {v["name"] for v in pod["spec"]["volumes"]}, "a mount names no volume of its pod"
    return {v["name"] for v in pod["spec"]["volumes"] if "emptyDir" in v}


def test_replicas_of_one_deployment_and_different_deployments_share_no_empty_dir():
    k8s_smoke = smoke()
    filter_, retention = deployment("filter"), deployment("retention")
    pods = [k8s_smoke.as_pod(f"residency-filter-pod-{n}", filter_["spec"]["template"]) for n in (0, 1)]
    pods.append(k8s_smoke.as_pod("residency-retention-pod-0", retention["spec"]["template"]))
    assert [p["metadata"]["name"] for p in pods] == ["residency-filter-pod-0", "residency-filter-pod-1",
                                                     "residency-retention-pod-0"]
    assert pods[0]["metadata"]["labels"] == {"app": "residency-filter"}
    owned = [volumes_of(p) for p in pods]
    assert owned[0] == {"residency-filter-pod-0-tmp"}
    assert "residency-retention-pod-0-tmp" in owned[2]
    assert not owned[0] & owned[1] and not owned[0] & owned[2] and not owned[1] & owned[2]
    # The shipped template is left as Kubernetes needs it.
    assert filter_["spec"]["template"]["spec"]["volumes"] == [{"name": "tmp", "emptyDir": {}}]


def test_dev_shm_is_dropped_and_its_size_limit_goes_to_podmans_shm_size():
    k8s_smoke = smoke()
    spec = deployment("inference")["spec"]["template"]["spec"]
    assert k8s_smoke.drop_shm(spec) == 2**30  # sizeLimit: 1Gi
    assert all(m["mountPath"] != "/dev/shm" for c in spec["containers"] for m in c["volumeMounts"])
    assert "shm" not in {v["name"] for v in spec["volumes"]}
    assert k8s_smoke.drop_shm(deployment("filter")["spec"]["template"]["spec"]) is None

    shipped = (ROOT / "deploy" / "podman" / "containers.conf").read_text()
    conf = tomllib.loads(k8s_smoke.with_shm_size(shipped, 2**30))
    assert conf["containers"]["shm_size"] == str(2**30)
    assert conf["containers"]["default_ulimits"] == tomllib.loads(shipped)["containers"]["default_ulimits"]
    assert conf["engine"] == tomllib.loads(shipped)["engine"]
    twice = k8s_smoke.with_shm_size(k8s_smoke.with_shm_size(shipped, 1), 2)
    assert tomllib.loads(twice)["containers"]["shm_size"] == "2"


def test_memory_quantities():
    quantity_bytes = smoke().quantity_bytes
    assert [quantity_bytes(q) for q in ("1Gi", "512Mi", "16Gi", "1G", "64M", "1000")] == [
        2**30, 512 * 2**20, 16 * 2**30, 10**9, 64 * 10**6, 1000]


def test_the_check_fetches_metrics_in_each_annotated_pod_where_the_annotations_point():
    k8s_smoke = smoke()
    pods = [k8s_smoke.as_pod(f"residency-filter-pod-{n}", deployment("filter")["spec"]["template"]) for n in (0, 1)]
    topics = yaml.safe_load((BASE / "topics-job.yaml").read_text())
    pods.append(k8s_smoke.as_pod("residency-topics", topics["spec"]["template"]))  # not annotated
    assert k8s_smoke.scrape_targets(pods) == ["residency-filter-pod-0-filter 9464 /metrics",
                                              "residency-filter-pod-1-filter 9464 /metrics"]


def test_the_startup_probes_allowance_holds_the_liveness_probe_as_podmans_start_period():
    startup_as_initial_delay = smoke().startup_as_initial_delay
    [inference] = deployment("inference")["spec"]["template"]["spec"]["containers"]
    startup = inference["startupProbe"]
    startup_as_initial_delay(inference)
    assert "startupProbe" not in inference
    assert inference["livenessProbe"]["initialDelaySeconds"] == startup["periodSeconds"] * startup["failureThreshold"]
    [gateway] = deployment("gateway")["spec"]["template"]["spec"]["containers"]
    liveness = dict(gateway["livenessProbe"])
    startup_as_initial_delay(gateway)  # no startup probe: liveness as shipped
    assert gateway["livenessProbe"] == liveness
