#!/bin/bash
# Entry point of the local Kafka image: server.properties from KAFKA_* variables (as the apache/kafka
# image reads them), KRaft storage formatted once, then the broker in the foreground.
set -euo pipefail
conf=/opt/kafka/config/server.properties
: > "$conf"
# Variables of the launcher, not broker properties (the apache/kafka image skips the same ones).
skip=" KAFKA_HEAP_OPTS KAFKA_OPTS KAFKA_JVM_PERFORMANCE_OPTS KAFKA_LOG4J_OPTS KAFKA_GC_LOG_OPTS KAFKA_JMX_OPTS "
while IFS= read -r -d '' entry; do
  name=${entry%%=*} value=${entry#*=}
  [[ $name == KAFKA_* && $skip != *" $name "* ]] || continue
  key=${name#KAFKA_}
  key=${key//___/-}; key=${key//__/@}; key=${key//_/.}; key=${key//@/_}
  printf '%s=%s\n' "${key,,}" "$value" >> "$conf"
done < <(env -0)
grep -q '^log\.dirs=' "$conf" || echo "log.dirs=/var/lib/kafka/data" >> "$conf"
log_dir=$(sed -n 's/^log\.dirs=//p' "$conf" | cut -d, -f1)

# The JVM flags that start a broker fastest on small machines; the variables override them.
heap=${KAFKA_HEAP_OPTS:--Xms128m -Xmx768m}
perf=${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true}
log4j=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties}
# shellcheck disable=SC2086  # the option strings are word lists
jvm=($heap $perf $log4j ${KAFKA_OPTS:-})
cp='/opt/kafka/libs/*'

if [[ ! -f $log_dir/meta.properties ]]; then
  # A static quorum (controller.quorum.voters) is formatted as is; a dynamic one starts --standalone.
  standalone=(--standalone)
  grep -q '^controller\.quorum\.voters=' "$conf" && standalone=()
  java "${jvm[@]}" -cp "$cp" kafka.tools.StorageTool format --ignore-formatted \
       -t "${CLUSTER_ID:-5L6g3nShT-eMCtK--X86sw}" -c "$conf" "${standalone[@]}"
fi
exec java "${jvm[@]}" -cp "$cp" kafka.Kafka "$conf"
