"""Starts and stops the six services on this machine, against the infra of deploy/local/infra.sh.

    python deploy/local/stack.py up   [--instance demo] [--region eu-west] [--gateways 2]
                                      [--gateway-port 8080] [--admin-port GATEWAY_PORT+10]
    python deploy/local/stack.py down [--instance demo]

Each service runs as its own process (``python -m services.<name>``) with its own settings
prefix; logs go to .data/<instance>/logs/, PIDs to .data/<instance>/pids/. Gateway replica i
serves the public API on gateway-port + i and the admin API on admin-port + i (loopback only); with
``--metrics-port P`` the services serve ``/metrics`` on P, P+1, ... (``metrics_ports_of``). ``up`` creates the
region's topics first and returns once every gateway answers /healthz and every consumer group
has its members: the stack is then ready for traffic.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
BUS_SERVICES = ("filter", "inference", "retrieval", "retention", "tuning")
ADMIN_PORT_OFFSET = 10  # admin API of gateway replica i: its public port + 10


def say(instance: str, text: str) -> None:
    print(f"[stack:{instance}] {text}", file=sys.stderr, flush=True)


def secrets_of(data: Path) -> dict[str, str]:
    """Admin, platform and connections keys of this instance, made once and kept in .data (never
    committed); a key missing from an older instance's file is added."""
    path = data / "secrets.env"
    data.mkdir(parents=True, exist_ok=True)
    found = dict(line.split("=", 1) for line in path.read_text().split()) if path.exists() else {}
    made = {"ADMIN_KEY": lambda: secrets.token_hex(32),
            "PLATFORM_KEY": lambda: base64.b64encode(os.urandom(32)).decode(),
            "CONNECTIONS_KEY": lambda: base64.b64encode(os.urandom(32)).decode(),
            "TUNING_FILES_KEY": lambda: base64.b64encode(os.urandom(32)).decode(),
            "TUNING_ADAPTERS_KEY": lambda: base64.b64encode(os.urandom(32)).decode()}
    if not made.keys() <= found.keys():
        found = {name: found.get(name) or make() for name, make in made.items()} | found
        path.write_text("".join(f"{name}={value}\n" for name, value in found.items()))
        path.chmod(0o600)
    return found


def service_env(service: str, *, region: str, kafka: str, mongo: str, keys: dict[str, str],
                extra: dict[str, str], data: Path, allowed_endpoints: list[str]) -> dict[str, str]:
    prefix = f"RESIDENCY_{service.upper()}_"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESIDENCY_")}
    env.update({"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT),
                prefix + "REGION": region, prefix + "KAFKA_BOOTSTRAP": kafka})
    if service in ("gateway", "retention", "filter", "tuning"):
        env[prefix + "MONGO_URI"] = mongo
    if service in ("gateway", "retrieval"):
        # Data connections: the customer store on loopback is allowed by name of its port; the
        # platform's store is refused whatever is allowed.
        env[prefix + "CONNECTIONS_KEY"] = keys["CONNECTIONS_KEY"]
        env[prefix + "ALLOWED_PRIVATE_ENDPOINTS"] = json.dumps(allowed_endpoints)
        env[prefix + "PLATFORM_STORES"] = json.dumps([mongo])
    if service == "retrieval":
        env[prefix + "CONTROL_MONGO_URI"] = mongo
    if service == "gateway":
        env[prefix + "ADMIN_KEY"] = keys["ADMIN_KEY"]
    if service == "retention":
        env[prefix + "PLATFORM_KEY"] = keys["PLATFORM_KEY"]
    if service == "tuning":
        # Keys of their own, not retention's or the connections key: files (tuning only), adapters
        env[prefix + "FILES_KEY"] = keys["TUNING_FILES_KEY"]
        env[prefix + "ADAPTERS_KEY"] = keys["TUNING_ADAPTERS_KEY"]
    if service == "inference":
        env[prefix + "ADAPTERS_KEY"] = keys["TUNING_ADAPTERS_KEY"]  # serves fine-tuned models; opens no file
        env[prefix + "TUNING_MONGO_URI"] = mongo
        env[prefix + "WORK_DIR"] = str(data / "run" / "inference" / "vllm")
        env[prefix + "ADAPTER_DIR"] = str(data / "adapters")
    env.update({k: v for k, v in extra.items() if k.startswith(prefix)})
    return env


def metrics_ports_of(first: int | None, gateways: int) -> dict[str, int]:
    """``/metrics`` ports from ``first`` on: the bus services in BUS_SERVICES order, then gateway-1, -2, ..."""
    if first is None:
        return {}
    names = [*BUS_SERVICES, *(f"gateway-{i + 1}" for i in range(gateways))]
    return {name: first + i for i, name in enumerate(names)}


def ready_file(data: Path, service: str) -> str:
    (data / "ready").mkdir(parents=True, exist_ok=True)
    path = data / "ready" / service
    path.unlink(missing_ok=True)
    return str(path)


def start(name: str, module: str, env: dict[str, str], data: Path) -> subprocess.Popen:
    """Each service runs in a working directory of its own, so what it writes there can be checked."""
    workdir = data / "run" / name
    for folder in (data / "logs", data / "pids", workdir):
        folder.mkdir(parents=True, exist_ok=True)
    with open(data / "logs" / f"{name}.log", "ab") as log:
        process = subprocess.Popen([PYTHON, "-m", module], cwd=workdir, env=env, stdout=log, stderr=log,
                                   start_new_session=True)
    (data / "pids" / f"{name}.pid").write_text(str(process.pid))
    return process


def wait_ready(instance: str, processes: dict[str, subprocess.Popen], gateway_ports: list[int], data: Path,
               timeout_s: float) -> None:
    """Gateways answer /healthz; bus services wrote their ready file (their groups own partitions)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        dead = [name for name, process in processes.items() if process.poll() is not None]
        if dead:
            raise SystemExit(f"[stack:{instance}] stopped during start-up: {', '.join(dead)}; "
                             f"see {data / 'logs'}")
        try:
            gateways = all(httpx.get(f"http://127.0.0.1:{p}/healthz", timeout=1).status_code == 200
                           for p in gateway_ports)
        except httpx.HTTPError:
            gateways = False
        if gateways and all((data / "ready" / service).exists() for service in BUS_SERVICES):
            return
        time.sleep(0.5)
    raise SystemExit(f"[stack:{instance}] not ready after {timeout_s:.0f} s; see {data / 'logs'}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def up(args: argparse.Namespace) -> None:
    data = ROOT / ".data" / args.instance
    if any(alive(int(p.read_text())) for p in (data / "pids").glob("*.pid")):
        say(args.instance, "already running; `down` first to restart")
        return
    began = time.monotonic()
    keys = secrets_of(data)
    kafka, mongo = f"127.0.0.1:{args.kafka_port}", f"mongodb://127.0.0.1:{args.mongo_port}/"
    subprocess.run([PYTHON, "-m", "services.runtime.topics", "--region", args.region, "--bootstrap", kafka],
                   cwd=ROOT, check=True)
    extra = dict(os.environ)
    allowed = [f"127.0.0.1/32:{args.customer_mongo_port}", *args.allow_endpoint]
    common = dict(region=args.region, kafka=kafka, mongo=mongo, keys=keys, extra=extra, data=data,
                  allowed_endpoints=allowed)
    processes: dict[str, subprocess.Popen] = {}
    metrics_ports = metrics_ports_of(args.metrics_port, args.gateways)
    for service in BUS_SERVICES:
        env = service_env(service, **common)
        env[f"RESIDENCY_{service.upper()}_READY_FILE"] = ready_file(data, service)
        if service in metrics_ports:
            env[f"RESIDENCY_{service.upper()}_METRICS_PORT"] = str(metrics_ports[service])
        processes[service] = start(service, f"services.{service}", env, data)
    ports = [args.gateway_port + i for i in range(args.gateways)]
    for i, port in enumerate(ports):
        env = service_env("gateway", **common)
        env["RESIDENCY_GATEWAY_PORT"] = str(port)
        env["RESIDENCY_GATEWAY_ADMIN_PORT"] = str(args.admin_port + i)
        env["RESIDENCY_GATEWAY_REPLICA_ID"] = f"{args.instance}-gw{i + 1}-{secrets.token_hex(2)}"
        if f"gateway-{i + 1}" in metrics_ports:
            env["RESIDENCY_GATEWAY_METRICS_PORT"] = str(metrics_ports[f"gateway-{i + 1}"])
        processes[f"gateway-{i + 1}"] = start(f"gateway-{i + 1}", "services.gateway", env, data)
    wait_ready(args.instance, processes, ports, data, args.timeout)
    say(args.instance, f"ready in {time.monotonic() - began:.1f} s: region {args.region}, gateways on "
                       + ", ".join(f"http://127.0.0.1:{p}" for p in ports)
                       + f", admin API on http://127.0.0.1:{args.admin_port}")


def down(args: argparse.Namespace) -> None:
    data = ROOT / ".data" / args.instance
    pids = {p: int(p.read_text()) for p in (data / "pids").glob("*.pid")}
    for pid in pids.values():
        if alive(pid):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while any(alive(pid) for pid in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    for path, pid in pids.items():
        if alive(pid):
            os.killpg(pid, signal.SIGKILL)
        path.unlink()
    say(args.instance, f"stopped {len(pids)} processes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--instance", default=os.environ.get("RESIDENCY_INFRA_INSTANCE", "demo"))
    parser.add_argument("--region", default="eu-west")
    parser.add_argument("--gateways", type=int, default=2)
    parser.add_argument("--gateway-port", type=int, default=int(os.environ.get("RESIDENCY_GATEWAY_BASE_PORT", 8080)))
    parser.add_argument("--admin-port", type=int, default=None,
                        help="admin API of the first gateway (default: gateway port + 10), next ones follow")
    parser.add_argument("--kafka-port", type=int, default=int(os.environ.get("RESIDENCY_KAFKA_PORT", 9092)))
    parser.add_argument("--mongo-port", type=int, default=int(os.environ.get("RESIDENCY_MONGO_PORT", 27017)))
    parser.add_argument("--customer-mongo-port", type=int,
                        default=int(os.environ.get("RESIDENCY_CUSTOMER_MONGO_PORT", 27018)),
                        help="the local customer store, which data connections may reach")
    parser.add_argument("--allow-endpoint", action="append", default=[],
                        help="another CIDR:port data connections may reach (repeatable)")
    parser.add_argument("--metrics-port", type=int, default=None,
                        help="first /metrics port: filter, inference, retrieval, retention, then the gateways")
    parser.add_argument("--timeout", type=float, default=300, help="seconds; vLLM engines take about a minute")
    args = parser.parse_args()
    if args.admin_port is None:
        args.admin_port = args.gateway_port + ADMIN_PORT_OFFSET
    up(args) if args.command == "up" else down(args)


if __name__ == "__main__":
    main()
