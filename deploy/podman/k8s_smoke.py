"""Turns a rendered overlay into what `podman kube play` can run here, for `just k8s-check`'s smoke run.

    python deploy/podman/k8s_smoke.py <rendered.yaml> <out-dir> --image localhost/residency:local ...

Writes three files to play in order: infra.yaml (Kafka and the two stores, as in compose: the local
Kafka image and FerretDB standing in for MongoDB), topics.yaml (the topics Job as a Pod) and
services.yaml (the overlay's Deployments). What changes, and why (nothing else does):
- Secrets become ConfigMaps and secretKeyRef/secret volumes their ConfigMap forms: podman 4.3 fails
  on secretKeyRef ("secret ... is not valid JSON"). The real Secret objects are checked by
  kubernetes-validate instead. Their example values are replaced by throw-away keys, and the TLS
  Secrets (made by cert-manager or the operator in a cluster) by a PKI made for this run.
- Addresses: podman resolves pods by name (<deployment>-pod-<n>), not Services, so the region's
  Kafka bootstrap and store URIs point at the infra pods; topics get replication factor 1 (one broker).
- Images: the locally built ones. The gateway's public port gets a host port for the smoke request
  (--gateway-port) and its admin port the next one, on 127.0.0.1, so it runs one replica (one host
  port); every other container port is dropped (podman would publish each on the host, and replicas
  collide).
- The inference Deployment also serves the zero-cost echo model, for a request that needs no engine.
- Each Deployment becomes its replicas as Pods, named as podman names a Deployment's pods
  (<deployment>-pod-<n>), and each pod's emptyDir volumes are renamed <pod>-<volume> (the topics
  Job's pod too): podman 4.3 backs an emptyDir with a named volume of the volume's *name*, shared by
  every pod that names it (all `tmp` volumes were one folder, so one service's ready file answered
  another's probe). A volume per pod is what Kubernetes gives. Podman removes them with the pods.
- The /dev/shm emptyDir is dropped, and the pods get a /dev/shm tmpfs of its sizeLimit instead
  (`shm_size` in a copy of the check's containers.conf, written next to the files, for the play):
  podman 4.3 makes a medium: Memory emptyDir a root-owned 0755 folder on disk (Kubernetes makes a
  0777 tmpfs; podman does so from 5.0), where vLLM's non-root engine cannot create its shared memory
  ("Permission denied: '/psm_...'"), and podman's own /dev/shm is 64 MB, too small for vLLM (160 MiB
  and more). Podman 4.3's kube play has no per-pod setting for it, so every pod of the smoke run gets
  that size as its limit (a tmpfs takes memory only as it is written).
- A startupProbe becomes its liveness probe's initialDelaySeconds (periodSeconds x failureThreshold,
  the time it allows): podman 4.3 ignores startup probes and restarts a container whose liveness
  health check fails (on-failure action `restart`), so inference, which takes minutes to load its
  engines, was restarted over and over. Kubernetes holds the liveness probe until the startup probe
  passes; podman's start period keeps failures from counting for that whole allowance.
NetworkPolicies and PodDisruptionBudgets are dropped: podman enforces neither.
Also written: `volumes`, the ConfigMap volumes the play creates and `podman kube down` leaves behind,
for the check to remove; `metrics`, one line per pod whose prometheus.io annotations ask for a
scrape: a container of it, the port and the path, for the check to fetch as Prometheus would.
"""

from __future__ import annotations

import argparse
import base64
import copy
import secrets
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.fixtures.pki import make_pki  # noqa: E402 - the repo root is put on the path just above

KAFKA = "kafka-pod-0"
CONTROL_STORE = "control-store-pod-0"
RETENTION_STORE = "retention-store-pod-0"


def deployment(name: str, image: str, env: dict[str, str], args: list[str] | None = None,
               health: list[str] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": image,
                                 "env": [{"name": k, "value": v} for k, v in env.items()]}
    if args:
        container["args"] = args
    if health:
        # A JVM-started health check takes seconds on a busy machine; podman kills the container on failure.
        container["livenessProbe"] = {"exec": {"command": health}, "periodSeconds": 10, "timeoutSeconds": 30,
                                      "failureThreshold": 6}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}}}


def infra(kafka_image: str, mongo_image: str) -> list[dict[str, Any]]:
    kafka_env = {
        "KAFKA_NODE_ID": "1", "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{KAFKA}:9092",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER", "KAFKA_CONTROLLER_QUORUM_VOTERS": f"1@{KAFKA}:9093",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1", "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1", "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false"}
    # podman joins an exec probe into one shell line, so the eval expression would not survive its quotes:
    # the local mongosh stand-in pings whatever it is given.
    ping = ["mongosh", "--quiet"]
    return [deployment("kafka", kafka_image, kafka_env,
                       health=["/opt/kafka/bin/kafka-topics.sh", "--bootstrap-server", "localhost:9092", "--list"]),
            deployment("control-store", mongo_image, {}, health=ping),
            deployment("retention-store", mongo_image, {}, health=ping)]


def as_config_map(secret: dict[str, Any]) -> dict[str, Any]:
    data = {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}
    data.update(secret.get("stringData", {}))
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": secret["metadata"]["name"]}, "data": data}


def secret_refs_to_config_maps(pod_spec: dict[str, Any]) -> None:
    for container in pod_spec.get("containers", []):
        for variable in container.get("env", []):
            ref = variable.get("valueFrom", {}).pop("secretKeyRef", None)
            if ref:
                variable["valueFrom"]["configMapKeyRef"] = ref
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                source["configMapRef"] = source.pop("secretRef")
    for volume in pod_spec.get("volumes", []):
        if "secret" in volume:
            secret = volume.pop("secret")
            volume["configMap"] = {"name": secret["secretName"]}


def tls_config_maps(directory: Path) -> list[dict[str, Any]]:
    pki = make_pki(directory)
    files = {"tls.crt": pki.server.certificate.read_text(), "tls.key": pki.server.private_key.read_text(),
             "ca.crt": pki.ca.read_text()}
    return [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": files}
            for name in ("residency-review-tls", "residency-customer-tls")]


def quantity_bytes(quantity: str) -> int:
    """A Kubernetes memory quantity ("1Gi", "512Mi", "1G", "1000000") in bytes."""
    factors = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    for suffix, factor in factors.items():
        if quantity.endswith(suffix):
            return int(float(quantity[: -len(suffix)]) * factor)
    return int(quantity)


def drop_shm(pod_spec: dict[str, Any]) -> int | None:
    """Drops the /dev/shm mounts and their volumes; returns the largest emptyDir sizeLimit among them."""
    names: set[str] = set()
    for container in pod_spec["containers"]:
        mounts = container.get("volumeMounts", [])
        names |= {m["name"] for m in mounts if m["mountPath"] == "/dev/shm"}
        container["volumeMounts"] = [m for m in mounts if m["mountPath"] != "/dev/shm"]
    dropped = [v for v in pod_spec.get("volumes", []) if v["name"] in names]
    pod_spec["volumes"] = [v for v in pod_spec.get("volumes", []) if v["name"] not in names]
    return max((quantity_bytes(v["emptyDir"]["sizeLimit"]) for v in dropped if v.get("emptyDir", {}).get("sizeLimit")),
               default=None)


def as_pod(name: str, template: dict[str, Any]) -> dict[str, Any]:
    """A pod of a workload's template, named `name`, with emptyDir volumes of its own (<pod>-<volume>)."""
    spec = copy.deepcopy(template["spec"])
    renamed = {v["name"]: f"{name}-{v['name']}" for v in spec.get("volumes", []) if "emptyDir" in v}
    for volume in spec.get("volumes", []):
        volume["name"] = renamed.get(volume["name"], volume["name"])
    for container in [*spec.get("initContainers", []), *spec["containers"]]:
        for mount in container.get("volumeMounts", []):
            mount["name"] = renamed.get(mount["name"], mount["name"])
    kept = {k: v for k, v in template.get("metadata", {}).items() if k in ("labels", "annotations")}
    metadata = {"name": name, **kept}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def with_shm_size(conf: str, size: int) -> str:
    """containers.conf text with `shm_size` (bytes) set in its [containers] table."""
    lines = [line for line in conf.splitlines() if not line.strip().startswith("shm_size")]
    setting = f'shm_size = "{size}"  # the smoke run\'s /dev/shm (k8s_smoke.py)'
    if "[containers]" in lines:
        at = lines.index("[containers]") + 1
        return "\n".join([*lines[:at], setting, *lines[at:]]) + "\n"
    return "\n".join(["[containers]", setting, *lines]) + "\n"


def startup_as_initial_delay(container: dict[str, Any]) -> None:
    """The startupProbe's allowance as the livenessProbe's initialDelaySeconds (podman's start period)."""
    startup = container.pop("startupProbe", None)
    if startup and "livenessProbe" in container:
        allowance = startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3)
        container["livenessProbe"]["initialDelaySeconds"] = max(
            container["livenessProbe"].get("initialDelaySeconds", 0), startup.get("initialDelaySeconds", 0) + allowance)


def scrape_targets(pods: list[dict[str, Any]]) -> list[str]:
    """'<container> <port> <path>' for each pod annotated prometheus.io/scrape: "true" (podman names a
    pod's containers <pod>-<container>; they share the pod's network, so any of them reaches the port)."""
    targets = []
    for pod in pods:
        annotations = pod["metadata"].get("annotations", {})
        if annotations.get("prometheus.io/scrape") == "true":
            container = f"{pod['metadata']['name']}-{pod['spec']['containers'][0]['name']}"
            path = annotations.get("prometheus.io/path", "/metrics")
            targets.append(f"{container} {annotations['prometheus.io/port']} {path}")
    return targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rendered", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--image", required=True)
    parser.add_argument("--kafka-image", required=True)
    parser.add_argument("--mongo-image", required=True)
    parser.add_argument("--gateway-port", type=int, required=True)
    parser.add_argument("--containers-conf", type=Path, required=True,
                        help="the check's containers.conf; a copy with the pods' /dev/shm size goes to <out>")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    objects = [o for o in yaml.safe_load_all(args.rendered.read_text()) if o]
    config_maps, workloads = [], []
    for obj in objects:
        kind = obj["kind"]
        if kind == "ConfigMap" and obj["metadata"]["name"].startswith("residency-region"):
            obj["data"].update(KAFKA_BOOTSTRAP=f"{KAFKA}:9092", TOPIC_REPLICATION_FACTOR="1",
                               TOPIC_MIN_INSYNC_REPLICAS="1",
                               PLATFORM_STORES=f'["{CONTROL_STORE}:27017", "{RETENTION_STORE}:27017"]')
            config_maps.append(obj)
        elif kind == "Secret" and obj["metadata"]["name"].startswith("residency-secrets"):
            cm = as_config_map(obj)
            cm["data"].update(ADMIN_KEY=secrets.token_urlsafe(24),
                              PLATFORM_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
                              CONNECTIONS_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
                              FILES_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
                              ADAPTERS_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
                              CONTROL_MONGO_URI=f"mongodb://{CONTROL_STORE}:27017/",
                              RETENTION_MONGO_URI=f"mongodb://{RETENTION_STORE}:27017/")
            (args.out / "admin-key").write_text(cm["data"]["ADMIN_KEY"])
            config_maps.append(cm)
        elif kind == "Secret":
            config_maps.append(as_config_map(obj))
        elif kind in ("Deployment", "Job"):
            workloads.append(obj)
        # Namespace, Service, NetworkPolicy, PodDisruptionBudget, PersistentVolumeClaim: not for podman.
    config_maps += tls_config_maps(args.out / "pki")

    topics, services, shm_sizes = [], [], []
    for obj in workloads:
        pod_spec = obj["spec"]["template"]["spec"]
        secret_refs_to_config_maps(pod_spec)
        shm = drop_shm(pod_spec)
        if shm:
            shm_sizes.append(shm)
        for container in pod_spec["containers"]:
            if container["image"].split("/")[-1].startswith("residency"):
                container["image"] = args.image
            # podman publishes every containerPort on the host; two replicas would collide
            ports = {p.get("name"): p for p in container.pop("ports", [])}
            if container["name"] == "gateway":
                container["ports"] = [{**ports["http"], "hostPort": args.gateway_port},
                                      {**ports["admin"], "hostPort": args.gateway_port + 1, "hostIP": "127.0.0.1"}]
            startup_as_initial_delay(container)
            if container["name"] == "inference":
                container["env"].append({"name": "RESIDENCY_INFERENCE_ECHO_MODELS", "value": '["echo"]'})
        name = obj["metadata"]["name"]
        if obj["kind"] == "Job":
            topics.append(as_pod(name, obj["spec"]["template"]))
        else:
            # One gateway: one host port; the other replicas are exercised by compose.
            replicas = 1 if name == "residency-gateway" else obj["spec"].get("replicas", 1)
            services += [as_pod(f"{name}-pod-{index}", obj["spec"]["template"]) for index in range(replicas)]

    conf = args.containers_conf.read_text()
    (args.out / "containers.conf").write_text(with_shm_size(conf, max(shm_sizes)) if shm_sizes else conf)
    leftovers = sorted({v["configMap"]["name"] for pod in [*topics, *services]
                        for v in pod["spec"].get("volumes", []) if "configMap" in v})
    (args.out / "volumes").write_text("".join(f"{name}\n" for name in leftovers))
    (args.out / "metrics").write_text("".join(f"{line}\n" for line in scrape_targets(services)))

    def write(name: str, docs: list[dict[str, Any]]) -> None:
        (args.out / name).write_text(yaml.safe_dump_all(docs, sort_keys=False))

    write("infra.yaml", infra(args.kafka_image, args.mongo_image))
    write("topics.yaml", [*config_maps, *topics])
    write("services.yaml", [*config_maps, *services])


if __name__ == "__main__":
    main()
