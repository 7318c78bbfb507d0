#!/usr/bin/env bash
# Installs everything the project needs on a machine that has python3 (3.11), java (17+),
# mvn and go: the Python virtualenv (with `just`), the Kafka broker's jars from Maven Central
# and the FerretDB binary built from the Go module proxy. Idempotent: each step is skipped
# when its inputs have not changed, so a second run takes about a second.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache="$root/.cache"
mkdir -p "$cache"
say() { printf '[install] %s\n' "$*" >&2; }

stamp_of() { cat "$@" | sha256sum | cut -c1-16; }

# 1. Python environment, pinned by constraints.txt.
py_stamp=$(stamp_of "$root/pyproject.toml" "$root/constraints.txt")
if [[ ! -x "$root/.venv/bin/python" ]]; then
  say "creating .venv"
  python3 -m venv "$root/.venv"
fi
if [[ "$(cat "$root/.venv/.residency-stamp" 2>/dev/null)" != "$py_stamp" ]]; then
  say "installing Python packages (pinned by constraints.txt)"
  "$root/.venv/bin/pip" install -q --disable-pip-version-check -c "$root/constraints.txt" -e "$root[test]"
  echo "$py_stamp" > "$root/.venv/.residency-stamp"
fi

# 2. Kafka broker classpath from Maven Central, cached per pom.xml content.
kafka_stamp=$(stamp_of "$root/deploy/local/kafka/pom.xml")
kafka_libs="$cache/kafka-$kafka_stamp/libs"
if [[ ! -f "$kafka_libs/.complete" ]]; then
  say "fetching the Kafka broker jars from Maven Central"
  mkdir -p "$kafka_libs"
  mvn -B -q -Dstyle.color=never -f "$root/deploy/local/kafka/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$kafka_libs"
  touch "$kafka_libs/.complete"
fi
ln -sfn "$kafka_libs" "$cache/kafka-libs"

# 3. FerretDB v1 embedded in our Go main, rebuilt when its sources change.
fdb_src="$root/deploy/local/ferretdb"
fdb_stamp=$(stamp_of "$fdb_src/main.go" "$fdb_src/go.mod" "$fdb_src/go.sum")
fdb_bin="$cache/bin/residency-ferretdb-$fdb_stamp"
if [[ ! -x "$fdb_bin" ]]; then
  say "building FerretDB v1 from the Go module proxy (about a minute, once)"
  mkdir -p "$cache/bin"
  (cd "$fdb_src" && GOFLAGS=-mod=mod go build -trimpath -o "$fdb_bin" .)
fi
ln -sfn "$fdb_bin" "$cache/bin/residency-ferretdb"
