#!/bin/sh
# Kafka's topic tool, as /opt/kafka/bin/kafka-topics.sh of the apache/kafka image (health checks use it).
exec java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties \
     -cp '/opt/kafka/libs/*' org.apache.kafka.tools.TopicCommand "$@"
