"""The compose profile `observability` holds together (its images cannot run here, so this is what
is checked): Prometheus scrapes exactly the services that serve /metrics, on their port; every
metric the Grafana dashboard queries is one a service registers; the collector sends to Jaeger."""

from __future__ import annotations

import json
import re

import yaml
from prometheus_client import REGISTRY

import services.filter.telemetry
import services.inference.telemetry
import services.retention.telemetry
import services.runtime.metrics  # noqa: F401 - registers the metrics the dashboard reads
from services.runtime.bus import make_broker
from tests.conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def registered_metric_names() -> set[str]:
    make_broker("127.0.0.1:9", service="dashboard-check")  # the bus's metrics (bus_metrics) with it
    names = set()
    for collector in list(REGISTRY._collector_to_names):
        for family in collector.describe() if hasattr(collector, "describe") else collector.collect():
            names.add(family.name)
    return names


def test_every_metric_the_dashboard_queries_is_registered_by_a_service():
    dashboard = json.loads((ROOT / "deploy/compose/grafana/dashboards/residency.json").read_text())
    queried = {re.sub(r"_(total|bucket|count|sum)$", "", name)
               for panel in dashboard["panels"] for target in panel["targets"]
               for name in re.findall(r"residency_[a-z_]+", target["expr"])}
    assert len(queried) >= 12
    assert queried <= registered_metric_names(), queried - registered_metric_names()


def test_prometheus_scrapes_each_service_that_serves_metrics_on_its_port():
    serving = {}
    for name, service in SERVICES.items():
        for key, value in (service.get("environment") or {}).items():
            if key.endswith("_METRICS_PORT"):
                serving[name] = f"{name}:{value}"
    assert set(serving) == {"filter", "inference", "retrieval", "retention", "tuning", "gateway-1",
                             "gateway-2"}
    config = yaml.safe_load((ROOT / "deploy/compose/prometheus.yml").read_text())
    scraped = {target for job in config["scrape_configs"] for static in job["static_configs"]
               for target in static["targets"]}
    assert scraped == set(serving.values())


def test_the_observability_profile_wires_collector_to_jaeger_and_grafana_to_prometheus():
    profile = {n for n, s in SERVICES.items() if "observability" in s.get("profiles", [])}
    assert profile == {"otel-collector", "jaeger", "prometheus", "grafana"}
    collector = yaml.safe_load((ROOT / "deploy/compose/otel-collector.yaml").read_text())
    [exporter] = collector["service"]["pipelines"]["traces"]["exporters"]
    assert collector["exporters"][exporter]["endpoint"].split(":")[0] == "jaeger"
    assert "http" in collector["receivers"]["otlp"]["protocols"]  # the services export OTLP over HTTP
    datasource = yaml.safe_load((ROOT / "deploy/compose/grafana/provisioning/datasources/prometheus.yaml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    dashboard = json.loads((ROOT / "deploy/compose/grafana/dashboards/residency.json").read_text())
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} == {datasource["datasources"][0]["uid"]}


def test_kubernetes_pods_announce_the_metrics_port_they_serve_and_only_prometheus_may_reach_it():
    base = ROOT / "deploy/k8s/base"
    docs = [d for f in sorted(base.glob("*.yaml")) if f.name != "kustomization.yaml"
            for d in yaml.safe_load_all(f.read_text()) if d]
    announced = {}
    for deployment in (d for d in docs if d["kind"] == "Deployment"):
        app = deployment["spec"]["template"]["metadata"]["labels"]["app"]
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        prefix = f"RESIDENCY_{app.removeprefix('residency-').upper()}_"
        env = {e["name"]: e.get("value") for e in container["env"]}
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert annotations["prometheus.io/scrape"] == "true", app
        assert annotations["prometheus.io/path"] == "/metrics", app
        assert int(annotations["prometheus.io/port"]) == int(env[f"{prefix}METRICS_PORT"]) == ports["metrics"], app
        announced[app] = ports["metrics"]
    assert set(announced) == {"residency-gateway", "residency-filter", "residency-inference",
                              "residency-retrieval", "residency-retention", "residency-tuning"}
    [policy] = [d for d in docs
                if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "residency-metrics-ingress"]
    [selector] = policy["spec"]["podSelector"]["matchExpressions"]
    assert selector["operator"] == "In" and set(selector["values"]) == set(announced)
    [rule] = policy["spec"]["ingress"]
    assert rule["from"] == [{"namespaceSelector": {"matchLabels": {"residency/monitoring": "true"}}}]
    assert {p["port"] for p in rule["ports"]} == set(announced.values())
