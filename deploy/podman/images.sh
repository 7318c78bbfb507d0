#!/usr/bin/env bash
# Builds the images the local container checks run, without an image registry:
#   localhost/residency:local           deploy/compose/Dockerfile on localhost/residency-python:3.11
#   localhost/residency-kafka:<version>  deploy/podman/kafka: the Maven jars of deploy/local (plus kafka-tools)
#   localhost/residency-ferretdb:1       deploy/podman/ferretdb: FerretDB v1 + a ping-only mongosh
# Needs what deploy/local/install.sh installs (.cache/kafka-libs) and podman, debootstrap, go, mvn.
# Build contexts are assembled in .data/podman/; podman's layer cache makes a rebuild quick.
#   deploy/podman/images.sh [kafka] [ferretdb] [residency]   (all three by default)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$root/deploy/podman/containers.conf}"
contexts="$root/.data/podman"
say() { printf '[images] %s\n' "$*" >&2; }
wanted=" ${*:-kafka ferretdb residency} "
build() { local started=$SECONDS; podman build -q "$@" >/dev/null; say "built ${*: -2:1} in $((SECONDS - started)) s"; }

"$root/deploy/podman/base-image.sh"

# Kafka: the broker's classpath that install.sh fetched, plus the CLI tools for the health check.
if [[ $wanted == *" kafka "* ]]; then
kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$root/deploy/local/kafka/pom.xml")
ctx="$contexts/kafka"
rm -rf "$ctx" && mkdir -p "$ctx/libs"
cp -L "$root"/.cache/kafka-libs/*.jar "$ctx/libs/"
mvn -B -q -Dstyle.color=never dependency:copy -Dartifact="org.apache.kafka:kafka-tools:$kafka_version" \
    -DoutputDirectory="$ctx/libs" -f "$root/deploy/local/kafka/pom.xml"
cp "$root"/deploy/podman/kafka/{Containerfile,run.sh,kafka-topics.sh} "$root/deploy/local/kafka/log4j2.properties" "$ctx/"
build -t "localhost/residency-kafka:$kafka_version" "$ctx"
fi

# FerretDB: static binaries (CGO off).
if [[ $wanted == *" ferretdb "* ]]; then
ctx="$contexts/ferretdb"
rm -rf "$ctx" && mkdir -p "$ctx"
(cd "$root/deploy/local/ferretdb" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -o "$ctx/residency-ferretdb" .)
(cd "$root/deploy/podman/ferretdb/mongosh" && CGO_ENABLED=0 go build -trimpath -o "$ctx/mongosh" .)
cp "$root/deploy/podman/ferretdb/Containerfile" "$ctx/"
build -t localhost/residency-ferretdb:1 "$ctx"
fi

if [[ $wanted == *" residency "* ]]; then
# The services: the shipped Dockerfile, on the local Python base. PyTorch's CPU index is not
# reachable here; the torch+cpu wheel of ../shared/wheels is offered through deploy/compose/wheels.
if [[ -d "$root/../shared/wheels" ]]; then
  for wheel in "$root"/../shared/wheels/*.whl; do
    ln -f "$wheel" "$root/deploy/compose/wheels/" 2>/dev/null || cp -u "$wheel" "$root/deploy/compose/wheels/"
  done
fi
# The host's CA bundle goes in as a build secret: these machines reach PyPI through a proxy with its own CA.
ca_bundle="${RESIDENCY_BUILD_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
secret=()
[[ -f $ca_bundle ]] && secret=(--secret "id=ca-bundle,src=$ca_bundle")
build --build-arg BASE_IMAGE=localhost/residency-python:3.11 --build-arg PIP_EXTRA_INDEX_URL= "${secret[@]}" \
      -f "$root/deploy/compose/Dockerfile" -t localhost/residency:local "$root"
fi
