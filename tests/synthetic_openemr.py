"""Synthetic series of what OpenEMR's dashboards read: OTeBPF's application metrics, Tempo's span metrics and
service graph (remote-written to Mimir) and Prometheus' ALERTS. See synthetic.py for the cluster.

Names and labels as the pinned versions write them:
- OTeBPF (OBI v1.0.0, pkg/export/prom/prom.go and pkg/export/attributes/attr_defs.go): application
  histograms carry instance, job, the k8s_* attributes of the instrumented pod (empty ones, e.g.
  k8s_statefulset_name of a Deployment's pod, are absent; service_name and service_namespace left the
  metric labels in v0.13, opentelemetry-ebpf-instrumentation#3168, and stay on target_info), and per
  metric: http_request_method, http_response_status_code, http_route, server_address, server_port
  (HTTP); db_operation_name, db_system_name, server_address, error_type (database clients, Redis
  included). target_info adds host_*, telemetry_sdk_*, source and os_type. The PodMonitor does not
  honor labels, so OBI's own `instance` and `job` are stored as exported_instance and exported_job.
  Default buckets: duration 0..10 s (OpenTelemetry's), body sizes 0..8192 bytes.
- Tempo 2.10 metrics-generator: span metrics labelled service, span_name, span_kind, status_code (its
  intrinsic dimensions); service graph labelled client, server, connection_type; both with the
  registry's external labels (source, cluster: components/tempo.py) and __metrics_gen_instance (the
  generator's hostname, modules/generator/registry). Default buckets: span latency
  2 ms x 2^0..13, service graph 0.1 s x 2^0..7.
- ALERTS: alertname, alertstate, severity and the labels of the alert's expression.
"""
from __future__ import annotations

from synthetic import NODES, PODS, Series, counter, gauge, histogram, scrape, target, up

CLUSTER = "openemr-eks"
OBI_DURATION = ("0", "0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1", "2.5", "5",
                "7.5", "10")
OBI_SIZE = ("0", "32", "64", "128", "256", "512", "1024", "2048", "4096", "8192")
TEMPO_SPAN_LATENCY = tuple(f"{0.002 * 2 ** i:g}" for i in range(14))
TEMPO_SERVICE_GRAPH = tuple(f"{0.1 * 2 ** i:g}" for i in range(8))
MYSQL_HOST, REDIS_HOST, EXTERNAL_HOST = "10.0.3.21", "10.0.3.40", "rxnav.nlm.nih.gov"
# (method, route, status, requests per minute per pod): the kubelet's probe, login (and its failure page),
# the chart, the calendar, encounter forms, the portal, the FHIR and REST APIs and their tokens.
REQUESTS = (
    ("GET", "/interface/login/login.php", "200", 20),
    ("POST", "/interface/main/main_screen.php", "302", 2),
    ("GET", "/interface/main/tabs/main.php", "200", 5),
    ("GET", "/interface/patient_file/summary/demographics.php", "200", 8),
    ("GET", "/interface/main/calendar/index.php", "200", 3),
    ("POST", "/interface/main/calendar/add_edit_event.php", "200", 1),
    ("POST", "/interface/forms/soap/save.php", "200", 2),
    ("POST", "/interface/forms/soap/save.php", "500", 0.3),
    ("GET", "/apis/default/fhir/Patient/*", "200", 4),
    ("GET", "/apis/default/api/patient", "401", 0.5),
    ("GET", "/interface/login_screen.php", "200", 0.5),
    ("GET", "/interface/logout.php", "302", 0.5),
    ("GET", "/interface/forms/vitals/new.php", "200", 1),
    ("GET", "/portal/home.php", "200", 1),
    ("POST", "/oauth2/default/token", "200", 0.5),
    ("POST", "/oauth2/default/token", "401", 0.1),
)
# (system, server, operation, error_type, operations per minute per pod)
DB_CALLS = (
    ("mysql", MYSQL_HOST, "SELECT", "", 60), ("mysql", MYSQL_HOST, "INSERT", "", 6),
    ("mysql", MYSQL_HOST, "UPDATE", "", 4), ("mysql", MYSQL_HOST, "SELECT", "error", 0.2),
    ("redis", REDIS_HOST, "GET", "", 25), ("redis", REDIS_HOST, "SETEX", "", 25),
    ("redis", REDIS_HOST, "GET", "error", 0.1),
)


def _openemr_pods():
    return [p for p in PODS if p.namespace == "openemr" and p.workload == "openemr"]


def _obi_target(node: str) -> dict[str, str]:
    agent = next(p for p in PODS if p.workload == "otebpf" and p.node == node)
    return target(agent, "monitoring-agents/otebpf", "metrics", 9400, service="", instance=node)


def _app_attributes(p) -> dict[str, str]:
    """What OBI knows of an instrumented process of pod `p`."""
    replicaset = p.owner[1]
    return {"instance": f"{p.name}:{p.containers[0]}", "job": f"{p.namespace}/{p.workload}",
            "k8s_namespace_name": p.namespace, "k8s_pod_name": p.name, "k8s_container_name": p.containers[0],
            "k8s_deployment_name": p.workload,
            "k8s_replicaset_name": replicaset, "k8s_node_name": p.node, "k8s_pod_uid": f"uid-{p.name}",
            "k8s_pod_start_time": "2026-12-01 23:00:00 +0000 UTC", "k8s_cluster_name": CLUSTER,
            "k8s_owner_name": p.workload, "k8s_kind": "Deployment"}


def otebpf(s: Series) -> None:
    for node in NODES:
        up(s, _obi_target(node))
    for p in _openemr_pods():
        t, app = _obi_target(p.node), _app_attributes(p)
        s.add("target_info", scrape(t, {**app, "service_name": p.workload, "service_namespace": p.namespace,
                                        "host_id": f"i-0{p.node[3]}", "host_name": p.name,
                                        "telemetry_sdk_language": "php", "telemetry_sdk_name": "opentelemetry",
                                        "telemetry_sdk_version": "v1.0.0", "source": "obi", "os_type": "linux"}),
              gauge(1))
        for method, route, status, per_minute in REQUESTS:
            labels = scrape(t, {**app, "http_request_method": method, "http_response_status_code": status,
                                "http_route": route, "server_address": "openemr-service", "server_port": "80"})
            histogram(s, "http_server_request_duration_seconds", labels, per_minute, OBI_DURATION)
            histogram(s, "http_server_request_body_size_bytes", labels, per_minute, OBI_SIZE)
            histogram(s, "http_server_response_body_size_bytes", labels, per_minute, OBI_SIZE)
        client = scrape(t, {**app, "http_request_method": "GET", "http_response_status_code": "200",
                            "server_address": EXTERNAL_HOST, "server_port": "443"})
        histogram(s, "http_client_request_duration_seconds", client, 1, OBI_DURATION)
        for system, server, operation, error, per_minute in DB_CALLS:
            labels = scrape(t, {**app, "db_system_name": system, "server_address": server,
                                "db_operation_name": operation, "error_type": error})
            histogram(s, "db_client_operation_duration_seconds", labels, per_minute, OBI_DURATION)


def tempo_generated(s: Series) -> None:
    # The registry's external labels, and the generator's hostname it adds to every series.
    external = {"source": "tempo", "cluster": CLUSTER, "__metrics_gen_instance": "tempo-0"}
    service = "openemr"
    for method, route, status, per_minute in REQUESTS:
        code = "STATUS_CODE_ERROR" if status.startswith("5") else "STATUS_CODE_UNSET"
        span = {**external, "service": service, "span_name": f"{method} {route}", "span_kind": "SPAN_KIND_SERVER",
                "status_code": code}
        s.add("traces_spanmetrics_calls_total", span, counter(per_minute * 2))
        histogram(s, "traces_spanmetrics_latency", span, per_minute * 2, TEMPO_SPAN_LATENCY)
    for operation in ("SELECT", "INSERT"):
        span = {**external, "service": service, "span_name": operation, "span_kind": "SPAN_KIND_CLIENT",
                "status_code": "STATUS_CODE_UNSET"}
        s.add("traces_spanmetrics_calls_total", span, counter(40))
        histogram(s, "traces_spanmetrics_latency", span, 40, TEMPO_SPAN_LATENCY)
    for client, server, kind, per_minute, failed in (("user", service, "virtual_node", 90, 0.6),
                                                      (service, MYSQL_HOST, "database", 140, 0.4),
                                                      (service, REDIS_HOST, "database", 100, 0.2),
                                                      (service, EXTERNAL_HOST, "virtual_node", 2, 0.1)):
        edge = {**external, "client": client, "server": server, "connection_type": kind}
        s.add("traces_service_graph_request_total", edge, counter(per_minute))
        s.add("traces_service_graph_request_failed_total", edge, counter(failed))
        histogram(s, "traces_service_graph_request_server_seconds", edge, per_minute, TEMPO_SERVICE_GRAPH)
        histogram(s, "traces_service_graph_request_client_seconds", edge, per_minute, TEMPO_SERVICE_GRAPH)


def alerts(s: Series) -> None:
    """Watchdog always fires; OpenEMR's latency alert fires and a restart alert is pending."""
    openemr = _openemr_pods()[0]
    s.add("ALERTS", {"alertname": "Watchdog", "alertstate": "firing", "severity": "info"}, gauge(1))
    s.add("ALERTS", {"alertname": "OpenEMRHighLatency", "alertstate": "firing", "severity": "warning",
                     "k8s_namespace_name": "openemr", "k8s_deployment_name": "openemr"}, gauge(1))
    s.add("ALERTS", {"alertname": "OpenEMRErrorsBudgetBurnFast", "alertstate": "firing", "severity": "critical",
                     "k8s_namespace_name": "openemr", "k8s_deployment_name": "openemr"}, gauge(1))
    s.add("ALERTS", {"alertname": "OpenEMRPodRestarting", "alertstate": "pending", "severity": "warning",
                     "namespace": "openemr", "pod": openemr.name, "container": "openemr"}, gauge(1))


EXPORTERS = [otebpf, tempo_generated, alerts]
