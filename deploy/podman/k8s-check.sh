#!/usr/bin/env bash
# `just k8s-check`: every overlay of deploy/k8s rendered with kustomize and validated against
# Kubernetes' schemas (kubernetes-validate --strict, offline), then the eu-west overlay smoke-run with
# `podman kube play` (Kafka and the stores as in compose; see deploy/podman/k8s_smoke.py for what the
# smoke run changes) until every service is ready, a request through the gateway, and down.
# NetworkPolicies and PodDisruptionBudgets are validated only: podman enforces neither. The GPU
# overlay is validated only. Output: .data/k8s-check/. Ports: the gateway on 8190, its admin API on
# 127.0.0.1:8191.
# RESIDENCY_REUSE_IMAGES=1 plays the images already built (deploy/podman/images.sh) instead of
# rebuilding them: the services' image then holds the sources it was built from, not the work tree's.
# After the request, /metrics is fetched in every pod where its prometheus.io annotations point, as
# Prometheus would.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$root/deploy/podman/containers.conf}"
eval "$(deploy/podman/tools.sh)"
out="$root/.data/k8s-check"
rm -rf "$out" && mkdir -p "$out/rendered" "$out/logs"
say() { printf '[k8s-check %4ds] %s\n' "$SECONDS" "$*" >&2; }
gateway_port=8190 network=residency-k8s-check

for overlay in deploy/k8s/overlays/*/; do
  name=$(basename "$overlay")
  "$kustomize" build "$overlay" > "$out/rendered/$name.yaml"
  "$ops_venv/bin/kubernetes-validate" --strict --quiet "$out/rendered/$name.yaml" \
    || { say "$name: kubernetes-validate failed"; exit 1; }
  say "$name: rendered and valid ($(grep -c '^kind:' "$out/rendered/$name.yaml") objects: $(grep '^kind:' \
      "$out/rendered/$name.yaml" | sort | uniq -c | awk '{printf "%s%s %s", sep, $1, $3; sep=", "}'))"
done

say "smoke run of eu-west with podman kube play"
if [[ ${RESIDENCY_REUSE_IMAGES:-0} == 1 ]]; then
  say "reusing the images built before (RESIDENCY_REUSE_IMAGES=1)"
else
  deploy/podman/images.sh
fi
kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' deploy/local/kafka/pom.xml)
.venv/bin/python deploy/podman/k8s_smoke.py "$out/rendered/eu-west.yaml" "$out/smoke" \
    --image localhost/residency:local --kafka-image "localhost/residency-kafka:$kafka_version" \
    --mongo-image localhost/residency-ferretdb:1 --gateway-port "$gateway_port" --containers-conf "$CONTAINERS_CONF"
# The same settings plus the pods' /dev/shm size (k8s_smoke.py says why), for every podman call below.
export CONTAINERS_CONF="$out/smoke/containers.conf"

# The smoke run's containers (kube play names them <pod>-<container>; pods <deployment>-pod-<n>).
containers() { podman ps -a --format '{{.Names}}' | grep -E '^((kafka|control-store|retention-store|residency-[a-z]+)-pod|residency-topics-)' || true; }

down() {
  say "collecting logs and playing down"
  for name in $(containers); do
    podman logs "$name" > "$out/logs/$name.log" 2>&1 || true
  done
  for file in services topics infra; do podman kube down "$out/smoke/$file.yaml" >/dev/null 2>&1 || true; done
  # kube down removes the pods' emptyDir volumes, not the volumes it made of ConfigMaps.
  while read -r volume; do podman volume rm -f "$volume" >/dev/null 2>&1 || true; done < "$out/smoke/volumes"
  podman network rm -f "$network" >/dev/null 2>&1 || true
}
down 2>/dev/null  # an interrupted run's pods
trap down EXIT
podman network create "$network" >/dev/null

# Podman runs liveness probes as health checks, but schedules them through systemd timers, which
# these machines lack: run them here until they pass.
wait_healthy() {  # timeout_s container-name-pattern...
  local timeout=$1; shift
  local deadline=$((SECONDS + timeout)) pending name pattern found
  while :; do
    pending=()
    for pattern in "$@"; do
      found=$(containers | grep -E "$pattern" || true)
      [[ -n $found ]] || { pending+=("$pattern (no container)"); continue; }
      for name in $found; do
        podman healthcheck run "$name" >/dev/null 2>&1 || pending+=("$name")
      done
    done
    ((${#pending[@]} == 0)) && { say "healthy: $*"; return 0; }
    ((SECONDS < deadline)) || { say "not healthy after ${timeout} s: ${pending[*]}"; return 1; }
    sleep 3
  done
}

started=$SECONDS
podman kube play --network "$network" "$out/smoke/infra.yaml" > "$out/play-infra.log" 2>&1
wait_healthy 120 '^kafka-pod' '^control-store-pod' '^retention-store-pod'
podman kube play --network "$network" "$out/smoke/topics.yaml" > "$out/play-topics.log" 2>&1
rc=$(podman wait residency-topics-topics)
[[ $rc == 0 ]] || { say "topics pod exited with $rc"; podman logs residency-topics-topics >&2; exit 1; }
say "topics created"
podman kube play --network "$network" "$out/smoke/services.yaml" > "$out/play-services.log" 2>&1
# The bus services' liveness probe passes only once the ready file exists and is fresh. The gateway's
# httpGet probe becomes a `curl` health check in podman, and the image has no curl (a kubelet needs
# none): the gateway is checked through its host port instead.
# Inference's startupProbe allows 600 s (120 x 5 s) for its two engines; on a machine shared with other
# work they have taken 7.5 minutes.
wait_healthy 660 '^residency-filter-pod' '^residency-inference-pod' '^residency-retrieval-pod' '^residency-retention-pod' \
    '^residency-tuning-pod'
for _ in $(seq 1 60); do
  curl -fsS "http://127.0.0.1:$gateway_port/healthz" >/dev/null 2>&1 && break
  sleep 2
done
curl -fsS "http://127.0.0.1:$gateway_port/healthz" >/dev/null
say "all pods up and ready $((SECONDS - started)) s after the first play"
podman ps --format '{{.Names}}\t{{.Status}}' | grep -E '^(kafka|control-store|retention-store|residency-[a-z]+)-pod' \
    | tee "$out/ps.txt" >&2

say "a request through the gateway (admin API, then the echo and the SmolLM2 deployments)"
RESIDENCY_SMOKE_GATEWAY="http://127.0.0.1:$gateway_port" RESIDENCY_SMOKE_ADMIN="http://127.0.0.1:$((gateway_port + 1))" \
    RESIDENCY_ADMIN_KEY="$(cat "$out/smoke/admin-key")" \
    .venv/bin/python - <<'PY' 2>&1 | tee "$out/request.txt"
import os

import httpx
from openai import OpenAI

gateway, admin_url = os.environ["RESIDENCY_SMOKE_GATEWAY"], os.environ["RESIDENCY_SMOKE_ADMIN"]
auth = {"authorization": f"Bearer {os.environ['RESIDENCY_ADMIN_KEY']}"}
resource = {"resource_id": "smoke", "region": "eu-west", "deployments": [
    {"name": "echo", "model": "echo"}, {"name": "chat", "model": "smollm2-135m-instruct"}]}
created = httpx.post(f"{admin_url}/admin/resources", json=resource, headers=auth)
assert created.status_code == 201, created.text
client = OpenAI(base_url=f"{gateway}/v1", api_key=created.json()["keys"]["key1"])
for deployment in ("echo", "chat"):
    answer = client.chat.completions.create(model=deployment, max_tokens=20, temperature=0,
                                            messages=[{"role": "user", "content": "What is the capital of France?"}])
    print(f"{deployment}: {answer.choices[0].message.content!r} ({answer.usage.total_tokens} tokens)")
PY

say "/metrics where each pod's prometheus.io annotations point"
while read -r container port path; do
  podman exec "$container" python -c '
import sys, urllib.request
body = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}{sys.argv[2]}", timeout=10).read().decode()
families = [line.split()[2] for line in body.splitlines() if line.startswith("# TYPE residency_")]
assert families, "no residency_* metrics"
print(f"{sys.argv[3]}: {len(families)} residency_* metric families on :{sys.argv[1]}{sys.argv[2]}")
' "$port" "$path" "${container%-*}" </dev/null 2>&1 | tee -a "$out/metrics.txt" >&2 \
    || { say "$container: no /metrics on $port$path"; exit 1; }
done < "$out/smoke/metrics"
say "passed"
