#!/usr/bin/env bash
# `just compose-check`: the shipped docker-compose.yml, run here with podman-compose and local stand-ins
# for the images no reachable registry serves (Kafka from the Maven jars, FerretDB for MongoDB):
# build, up (in depends_on order), wait for every health check, run the demo and the e2e suite
# against the stack from outside, then down. Output and container logs: .data/compose-check/.
# Ports: gateways 8180/8181, Kafka 8182 and MongoDB 8183 on loopback, the demo's customer store on
# the host's own address at 8184 (the tests and the containers must reach it by the same URI).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$root/deploy/podman/containers.conf}"
eval "$(deploy/podman/tools.sh)"
out="$root/.data/compose-check"
mkdir -p "$out/logs"
say() { printf '[compose-check %4ds] %s\n' "$SECONDS" "$*" >&2; }

host_ip="${RESIDENCY_CHECK_HOST_IP:-$(hostname -I | awk '{print $1}')}"
kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' deploy/local/kafka/pom.xml)
export KAFKA_IMAGE="localhost/residency-kafka:$kafka_version" MONGO_IMAGE=localhost/residency-ferretdb:1
export RESIDENCY_IMAGE=localhost/residency:local RESIDENCY_REGION=eu-west
export RESIDENCY_GATEWAY_1_PORT=8180 RESIDENCY_GATEWAY_2_PORT=8181
export RESIDENCY_GATEWAY_1_ADMIN_PORT=8185 RESIDENCY_GATEWAY_2_ADMIN_PORT=8186  # on 127.0.0.1 only
export RESIDENCY_KAFKA_HOST_PORT=8182 RESIDENCY_MONGO_HOST_PORT=8183
export RESIDENCY_CUSTOMER_MONGO_PUBLISH="$host_ip:8184"
export RESIDENCY_ALLOWED_PRIVATE_ENDPOINTS="[\"$host_ip/32:8184\"]"
export RESIDENCY_ECHO_MODELS='["echo"]'
RESIDENCY_ADMIN_KEY="$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"  # 64 hex characters (the gateway wants 32 or more)
RESIDENCY_PLATFORM_KEY="$(head -c 32 /dev/urandom | base64)"
RESIDENCY_CONNECTIONS_KEY="$(head -c 32 /dev/urandom | base64)"
RESIDENCY_FILES_KEY="$(head -c 32 /dev/urandom | base64)"
RESIDENCY_ADAPTERS_KEY="$(head -c 32 /dev/urandom | base64)"
export RESIDENCY_ADMIN_KEY RESIDENCY_PLATFORM_KEY RESIDENCY_CONNECTIONS_KEY RESIDENCY_FILES_KEY RESIDENCY_ADAPTERS_KEY
compose=("$ops_venv/bin/podman-compose" --profile demo -p residency-check -f docker-compose.yml)

down() {
  say "collecting logs and taking the stack down"
  for name in $(podman ps -a --filter label=io.podman.compose.project=residency-check --format '{{.Names}}'); do
    podman logs "$name" > "$out/logs/$name.log" 2>&1 || true
  done
  "${compose[@]}" down -v -t 10 > "$out/down.log" 2>&1 || true
}

# Health as the compose file defines it. Podman 4.3 schedules health checks through systemd timers,
# which these machines lack, and podman-compose ignores `service_healthy` before podman 4.6: so the
# checks are run here, with `podman healthcheck run`, until each container passes.
wait_healthy() {  # timeout_s service...
  local timeout=$1; shift
  local deadline=$((SECONDS + timeout)) service name pending
  while :; do
    pending=()
    for service in "$@"; do
      for name in $(podman ps -a --filter label=io.podman.compose.project=residency-check \
                      --filter "label=io.podman.compose.service=$service" --format '{{.Names}}'); do
        podman healthcheck run "$name" >/dev/null 2>&1 || pending+=("$name")
      done
    done
    ((${#pending[@]} == 0)) && { say "healthy: $*"; return 0; }
    ((SECONDS < deadline)) || { say "not healthy after ${timeout} s: ${pending[*]}"; return 1; }
    sleep 3
  done
}

say "images"
deploy/podman/images.sh
"${compose[@]}" down -v -t 5 > /dev/null 2>&1 || true  # an interrupted run's stack
trap down EXIT
up_started=$SECONDS
# Up in the file's depends_on order, one stage at a time, each waited for as its condition says
# (service_healthy, service_completed_successfully): podman-compose cannot wait for health with
# podman 4.3 (it says so and starts the dependants anyway). --no-deps because podman 4.3 cannot start
# a container whose --requires chain is longer than one link ("depends on container ... not found
# in input list"), which is what podman-compose sets up for filter -> topics -> kafka.
services=(filter inference retrieval retention tuning gateway-1 gateway-2)
say "up: kafka, mongodb, customer-mongodb"
"${compose[@]}" up -d --no-build --no-deps kafka mongodb customer-mongodb > "$out/up.log" 2>&1
wait_healthy 120 kafka mongodb customer-mongodb
say "up: topics"
"${compose[@]}" up -d --no-build --no-deps topics >> "$out/up.log" 2>&1
topics_rc=$(podman wait residency-check_topics_1)
[[ $topics_rc == 0 ]] || { say "topics exited with $topics_rc"; podman logs residency-check_topics_1 >&2; exit 1; }
say "up: ${services[*]}"
"${compose[@]}" up -d --no-build --no-deps "${services[@]}" >> "$out/up.log" 2>&1
wait_healthy 420 "${services[@]}"
say "stack healthy $((SECONDS - up_started)) s after the first up"
podman ps --filter label=io.podman.compose.project=residency-check --format '{{.Names}}\t{{.Status}}' | tee "$out/ps.txt" >&2

podman stats --no-stream --format '{{.Name}}\t{{.MemUsage}}\t{{.CPUPerc}}' \
    $(podman ps -q --filter label=io.podman.compose.project=residency-check) > "$out/stats-idle.txt" 2>/dev/null || true

say "demo"
RESIDENCY_DEMO_GATEWAYS="http://127.0.0.1:8180,http://127.0.0.1:8181" RESIDENCY_DEMO_ADMIN=http://127.0.0.1:8185 \
RESIDENCY_DEMO_CUSTOMER_STORE="mongodb://$host_ip:8184/" \
    .venv/bin/python deploy/local/demo.py 2>&1 | tee "$out/demo.txt"

say "e2e suite against the compose stack"
RESIDENCY_TEST_EXTERNAL_GATEWAYS="http://127.0.0.1:8180,http://127.0.0.1:8181" \
RESIDENCY_TEST_EXTERNAL_REGION=eu-west RESIDENCY_TEST_EXTERNAL_ADMIN_KEY="$RESIDENCY_ADMIN_KEY" \
RESIDENCY_TEST_EXTERNAL_ADMIN_URL=http://127.0.0.1:8185 \
RESIDENCY_TEST_EXTERNAL_LOGS="$out/logs" \
RESIDENCY_TEST_KAFKA=127.0.0.1:8182 RESIDENCY_TEST_MONGO=mongodb://127.0.0.1:8183/ \
RESIDENCY_TEST_CUSTOMER_MONGO="mongodb://$host_ip:8184/" \
    .venv/bin/python -m pytest tests/e2e -p no:cacheprovider 2>&1 | tee "$out/e2e.txt"
podman stats --no-stream --format '{{.Name}}\t{{.MemUsage}}\t{{.CPUPerc}}' \
    $(podman ps -q --filter label=io.podman.compose.project=residency-check) > "$out/stats-after-e2e.txt" 2>/dev/null || true
say "passed"
