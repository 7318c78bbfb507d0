#!/usr/bin/env bash
# Installs what `just compose-check` and `just k8s-check` need beyond deploy/local/install.sh:
#   podman, runc, debootstrap   Debian packages (apt-get; needs root)
#   podman-compose, kubernetes-validate   PyPI, pinned in deploy/podman/requirements.txt, own virtualenv
#   kustomize v5.7.1            built from the Go module proxy
# Locations: RESIDENCY_OPS_VENV (.cache/ops-venv) and RESIDENCY_OPS_BIN (.cache/bin). Idempotent.
# Prints the two locations as shell assignments for the check scripts to eval.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${RESIDENCY_OPS_VENV:-$root/.cache/ops-venv}"
bin="${RESIDENCY_OPS_BIN:-$root/.cache/bin}"
kustomize_version=v5.7.1
say() { printf '[tools] %s\n' "$*" >&2; }

missing=()
for tool in podman runc debootstrap; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
  [[ $(id -u) == 0 ]] || { say "missing ${missing[*]}: apt-get install podman runc debootstrap (as root)"; exit 1; }
  say "installing ${missing[*]} (Debian packages)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null
fi

stamp=$(sha256sum "$root/deploy/podman/requirements.txt" | cut -c1-16)
if [[ "$(cat "$venv/.residency-stamp" 2>/dev/null)" != "$stamp" ]]; then
  say "installing podman-compose and kubernetes-validate into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$root/deploy/podman/requirements.txt"
  echo "$stamp" > "$venv/.residency-stamp"
fi

if [[ ! -x "$bin/kustomize-$kustomize_version" ]]; then
  say "building kustomize $kustomize_version from the Go module proxy"
  gobin="$(mktemp -d)"
  GOBIN="$gobin" go install "sigs.k8s.io/kustomize/kustomize/v5@$kustomize_version"
  mkdir -p "$bin" && mv "$gobin/kustomize" "$bin/kustomize-$kustomize_version" && rmdir "$gobin"
fi
echo "ops_venv='$venv' kustomize='$bin/kustomize-$kustomize_version'"
