#!/usr/bin/env bash
# Starts and stops the local infrastructure: one Apache Kafka broker in KRaft mode and two
# FerretDB v1 servers (MongoDB wire protocol, SQLite backend), all on loopback only: the
# platform's store, and a separate *customer* store that stands for a tenant's own MongoDB
# ("on your data" reads it; the platform's store is never a data source).
#
#   deploy/local/infra.sh up|down|status
#
# Environment (defaults suit the demo; the test suite uses its own instance and ports):
#   RESIDENCY_INFRA_INSTANCE  name of this instance, its data lives in .data/<instance>  (demo)
#   RESIDENCY_KAFKA_PORT      broker port (9092); the controller listens on the next port, SASL_SSL on the one after
#   RESIDENCY_MONGO_PORT      FerretDB port of the platform's store (27017)
#   RESIDENCY_CUSTOMER_MONGO_PORT  FerretDB port of the customer store (27018)
#   RESIDENCY_KAFKA_HEAP      JVM heap for the broker (768m)
#   RESIDENCY_KAFKA_JIT       c1 (default: starts fast, for tests) or full (C2 too, as a production
#                             broker runs; the benchmarks use it)
# `up` is idempotent: a running instance is left alone and reported.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
instance="${RESIDENCY_INFRA_INSTANCE:-demo}"
kafka_port="${RESIDENCY_KAFKA_PORT:-9092}"
controller_port="$((kafka_port + 1))"
sasl_ssl_port="$((kafka_port + 2))"  # SASL_SSL listener; its CA and user in $data/kafka/sasl-ssl/client.json
mongo_port="${RESIDENCY_MONGO_PORT:-27017}"
customer_port="${RESIDENCY_CUSTOMER_MONGO_PORT:-27018}"
heap="${RESIDENCY_KAFKA_HEAP:-768m}"
jit="${RESIDENCY_KAFKA_JIT:-c1}"
data="$root/.data/$instance"
python="$root/.venv/bin/python"
say() { printf '[infra:%s] %s\n' "$instance" "$*" >&2; }

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

kafka_up() {
  local dir="$data/kafka" pidfile="$data/kafka.pid"
  if alive "$pidfile"; then say "kafka already running (pid $(cat "$pidfile")) on 127.0.0.1:$kafka_port"; return; fi
  mkdir -p "$dir"
  sed -e "s/@KAFKA_PORT@/$kafka_port/g" -e "s/@CONTROLLER_PORT@/$controller_port/g" \
      -e "s/@SASL_SSL_PORT@/$sasl_ssl_port/g" \
      -e "s#@LOG_DIR@#$dir/log#g" "$root/deploy/local/kafka/server.properties.in" > "$dir/server.properties"
  "$python" "$root/deploy/local/kafka/sasl_ssl.py" "$dir/sasl-ssl" "$sasl_ssl_port"
  cat "$dir/sasl-ssl/listener.properties" >> "$dir/server.properties"
  local cp="$root/.cache/kafka-libs/*"
  local jvm=(-Xms128m "-Xmx$heap" -XX:+UseSerialGC -Djava.awt.headless=true
             "-Dlog4j2.configurationFile=$root/deploy/local/kafka/log4j2.properties")
  [[ "$jit" == full ]] || jvm+=(-XX:TieredStopAtLevel=1)
  if [[ ! -f "$dir/log/meta.properties" ]]; then
    say "formatting KRaft storage"
    local cluster_id; cluster_id=$(java -cp "$cp" kafka.tools.StorageTool random-uuid)
    java "${jvm[@]}" -cp "$cp" kafka.tools.StorageTool format --standalone -t "$cluster_id" \
         -c "$dir/server.properties" > "$dir/format.log" 2>&1
  fi
  say "starting kafka on 127.0.0.1:$kafka_port"
  nohup java "${jvm[@]}" -cp "$cp" kafka.Kafka "$dir/server.properties" > "$data/kafka.log" 2>&1 &
  echo $! > "$pidfile"
}

mongo_up() {  # name port
  local name="$1" port="$2" pidfile="$data/$1.pid"
  if alive "$pidfile"; then say "$name already running (pid $(cat "$pidfile")) on 127.0.0.1:$port"; return; fi
  mkdir -p "$data/$name"
  say "starting $name on 127.0.0.1:$port"
  nohup "$root/.cache/bin/residency-ferretdb" -listen "127.0.0.1:$port" -data "$data/$name" \
        > "$data/$name.log" 2>&1 &
  echo $! > "$pidfile"
}

stop() {
  local name="$1" pidfile="$data/$1.pid"
  if alive "$pidfile"; then
    local pid; pid=$(cat "$pidfile")
    say "stopping $name (pid $pid)"
    kill "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { say "$name did not stop in 10 s, killing it"; kill -9 "$pid"; }
  fi
  rm -f "$pidfile"
}

case "${1:-}" in
  up)
    mkdir -p "$data"
    start=$(date +%s%N)
    kafka_up
    mongo_up ferretdb "$mongo_port"
    mongo_up customer-ferretdb "$customer_port"
    # Readiness is a real client call (Kafka metadata, MongoDB ping), not an open port.
    "$python" -m services.runtime.wait_ready --kafka "127.0.0.1:$kafka_port" \
        --mongo "mongodb://127.0.0.1:$mongo_port/" --mongo "mongodb://127.0.0.1:$customer_port/" --timeout 90 \
      || { say "not ready; last lines of the logs:"
           tail -n 20 "$data/kafka.log" "$data/ferretdb.log" "$data/customer-ferretdb.log" >&2; exit 1; }
    elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
    say "ready in $((elapsed_ms / 1000)).$(printf '%03d' $((elapsed_ms % 1000))) s: kafka 127.0.0.1:$kafka_port, mongodb://127.0.0.1:$mongo_port/ (platform), mongodb://127.0.0.1:$customer_port/ (customer)"
    ;;
  down)
    stop customer-ferretdb
    stop ferretdb
    stop kafka
    ;;
  status)
    alive "$data/kafka.pid" && say "kafka running on 127.0.0.1:$kafka_port" || say "kafka stopped"
    alive "$data/ferretdb.pid" && say "ferretdb running on 127.0.0.1:$mongo_port" || say "ferretdb stopped"
    alive "$data/customer-ferretdb.pid" && say "customer ferretdb running on 127.0.0.1:$customer_port" \
      || say "customer ferretdb stopped"
    ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
