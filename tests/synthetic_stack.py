"""Synthetic series of the observability stack's own exporters; see synthetic.py for the conventions.

Prometheus (and its config-reloader sidecar), Alertmanager, the Prometheus Operator, Grafana, Loki, Tempo,
Mimir, Fluent Bit and OTeBPF's internal metrics, with the metric and label names of the versions pinned
in versions.py. Loki, Tempo and Mimir appear in both layouts the overlays render: one process per backend
(synthetic.PODS: loki-0, tempo-0, mimir-0, job = the single Service) and one Service per role (ROLE_PODS
here: job = loki-write, mimir-distributor, ...), so every dashboard query is proven against the layout
of each overlay. Each role writes only the series that role's process really exports.
"""
from __future__ import annotations

from synthetic import BUCKETS, NODES, PODS, STEPS, Pod, Series, counter, gauge, histogram, pod, scrape, target, up

STACK = "monitoring"
TIMESTAMP_NOW = f"0+60x{STEPS}"  # a timestamp gauge that follows the clock (1 min per step)
LAST_RUN = gauge(3600)  # "last successful run" 30 min before the evaluation time (90m)

ROLES = {
    "loki": ("write", "read", "backend"),
    "mimir": ("distributor", "ingester", "querier", "query-frontend", "query-scheduler", "store-gateway",
              "compactor"),
    "tempo": ("distributor", "ingester", "querier", "query-frontend", "compactor", "metrics-generator"),
}
# Roles the single process does not run: Mimir's -target=all has no query-scheduler (the query-frontend
# queues itself); Loki's and Tempo's run every role above.
NOT_IN_SINGLE = {"mimir-query-scheduler"}
PORTS = {"loki": 3100, "mimir": 8080, "tempo": 3200}
STATEFUL = {"loki-write", "loki-backend", "mimir-ingester", "mimir-store-gateway", "mimir-compactor",
            "tempo-ingester", "tempo-metrics-generator"}


def _role_pods() -> list[Pod]:
    found = []
    for index, (backend, role) in enumerate((b, r) for b, roles in ROLES.items() for r in roles):
        workload = f"{backend}-{role}"
        kind = "StatefulSet" if workload in STATEFUL else "Deployment"
        name = f"{workload}-0" if kind == "StatefulSet" else f"{workload}-7d9f8b6c5-r{index:02d}x"
        found.append(Pod(STACK, name, NODES[index % 2], kind, workload, (backend,), f"10.0.3.{10 + index}"))
    found.append(Pod(STACK, "prometheus-operator-6b7c8d9f4-opr01", NODES[1], "Deployment", "prometheus-operator",
                     ("prometheus-operator",), "10.0.3.60"))
    return found


ROLE_PODS = _role_pods()


def role_pod(workload: str) -> Pod:
    return next(p for p in ROLE_PODS if p.workload == workload)


def go_process(s: Series, t: dict[str, str]) -> None:
    """The Go and process collectors every component registers."""
    s.add("go_goroutines", t, gauge(200))
    s.add("go_memstats_heap_inuse_bytes", t, gauge(80e6))
    s.add("process_cpu_seconds_total", t, counter(6))
    s.add("process_resident_memory_bytes", t, gauge(150e6))
    s.add("process_start_time_seconds", t, gauge(0))


class Scraped:
    """Writes an exporter's series through its target's labels, as Prometheus stores them."""

    def __init__(self, s: Series, t: dict[str, str]):
        self.s, self.t = s, t
        up(s, t)
        go_process(s, t)

    def add(self, name: str, labels: dict[str, str], values: str) -> None:
        self.s.add(name, scrape(self.t, labels), values)

    def hist(self, name: str, labels: dict[str, str], per_minute: float = 60, buckets: tuple[str, ...] = BUCKETS):
        histogram(self.s, name, scrape(self.t, labels), per_minute, buckets)

    def requests(self, metric: str, route: str, method: str, ok: str, error: str, per_minute: float = 60):
        """One route of a dskit-instrumented server (by method, route, status_code, ws), mostly `ok`
        with a trickle of `error`."""
        for status, rate in ((ok, per_minute), (error, per_minute / 50)):
            self.hist(metric, {"method": method, "route": route, "status_code": status, "ws": "false"}, rate)


# --- Prometheus, its config-reloader, Alertmanager, the operator, Grafana ------------------------------

def prometheus(s: Series) -> None:
    p = pod("prometheus-main")
    m = Scraped(s, target(p, "prometheus", "web", 9090, container="prometheus"))
    m.add("prometheus_build_info", {"version": "3.9.1", "branch": "HEAD", "revision": "x", "goversion": "go1.25"},
        gauge(1))
    m.add("prometheus_ready", {}, gauge(1))
    m.add("prometheus_config_last_reload_successful", {}, gauge(1))
    m.add("prometheus_config_last_reload_success_timestamp_seconds", {}, LAST_RUN)
    m.add("prometheus_tsdb_head_series", {}, gauge(120_000))
    m.add("prometheus_tsdb_head_samples_appended_total", {"type": "float"}, counter(240_000))
    m.add("prometheus_tsdb_storage_blocks_bytes", {}, gauge(8e9))
    m.add("prometheus_tsdb_retention_limit_bytes", {}, gauge(90e9))
    for name in ("compactions_failed_total", "reloads_failures_total", "wal_corruptions_total"):
        m.add(f"prometheus_tsdb_{name}", {}, gauge(0))
    m.add("prometheus_tsdb_compactions_total", {}, counter(0.01))
    m.add("prometheus_target_scrapes_exceeded_sample_limit_total", {}, gauge(0))
    m.add("prometheus_sd_refresh_failures_total", {"mechanism": "kubernetes", "config": "kubernetes"}, gauge(0))
    for group in ("/etc/prometheus/rules/prometheus-main-rulefiles-0/monitoring-stack-rules.yaml;loki",
                  "/etc/prometheus/rules/prometheus-main-rulefiles-0/monitoring-stack-rules.yaml;kubernetes"):
        g = {"rule_group": group}
        m.add("prometheus_rule_group_last_duration_seconds", g, gauge(0.02))
        m.add("prometheus_rule_group_interval_seconds", g, gauge(30))
        m.add("prometheus_rule_evaluations_total", g, counter(40))
        m.add("prometheus_rule_evaluation_failures_total", g, gauge(0))
        m.add("prometheus_rule_group_iterations_total", g, counter(2))
        m.add("prometheus_rule_group_iterations_missed_total", g, gauge(0))
    alertmanager = {"alertmanager": "http://10.0.2.41:9093/api/v2/alerts"}
    m.add("prometheus_notifications_sent_total", alertmanager, counter(2))
    m.add("prometheus_notifications_errors_total", alertmanager, counter(0.01))
    m.add("prometheus_notifications_dropped_total", {}, gauge(0))
    m.add("prometheus_notifications_queue_length", {}, gauge(0))
    m.add("prometheus_notifications_queue_capacity", {}, gauge(10000))
    m.add("prometheus_notifications_alertmanagers_discovered", {}, gauge(1))
    queue = {"remote_name": "mimir", "url": "http://mimir-distributor.monitoring.svc.cluster.local:8080/api/v1/push"}
    remote_write(m, queue)
    m.add("prometheus_remote_storage_highest_timestamp_in_seconds", {}, TIMESTAMP_NOW)
    for handler in ("/api/v1/query_range", "/api/v1/query"):
        m.add("prometheus_http_requests_total", {"handler": handler, "code": "200"}, counter(30))
        m.hist("prometheus_http_request_duration_seconds", {"handler": handler}, 30)
    config_reloader(s, p, "prometheus")


def remote_write(m: Scraped, queue: dict[str, str]) -> None:
    """A Prometheus remote-write queue's series (Prometheus itself, and Tempo's metrics-generator)."""
    m.add("prometheus_remote_storage_samples_total", queue, counter(240_000))
    m.add("prometheus_remote_storage_samples_failed_total", queue, gauge(0))
    m.add("prometheus_remote_storage_samples_retried_total", queue, counter(5))
    m.add("prometheus_remote_storage_samples_dropped_total", queue, gauge(0))
    m.add("prometheus_remote_storage_samples_pending", queue, gauge(300))
    m.add("prometheus_remote_storage_shards", queue, gauge(2))
    m.add("prometheus_remote_storage_shards_desired", queue, gauge(1.5))
    m.add("prometheus_remote_storage_shards_max", queue, gauge(50))
    m.add("prometheus_remote_storage_shards_min", queue, gauge(1))
    m.add("prometheus_remote_storage_queue_highest_sent_timestamp_seconds", queue, f"-10+60x{STEPS}")
    m.hist("prometheus_remote_storage_sent_batch_duration_seconds", queue, 60)


def config_reloader(s: Series, p: Pod, job: str) -> None:
    m = Scraped(s, target(p, job, "reloader-web", 8080, container="config-reloader"))
    m.add("reloader_last_reload_successful", {}, gauge(1))
    m.add("reloader_last_reload_success_timestamp_seconds", {}, LAST_RUN)
    m.add("reloader_reloads_total", {}, counter(0.02))
    m.add("reloader_reloads_failed_total", {}, gauge(0))


def alertmanager(s: Series) -> None:
    p = pod("alertmanager-main")
    m = Scraped(s, target(p, "alertmanager", "web", 9093, container="alertmanager"))
    m.add("alertmanager_build_info", {"version": "0.31.1", "branch": "HEAD", "revision": "x", "goversion": "go1.25"},
        gauge(1))
    for state, value in (("active", 3), ("suppressed", 1), ("unprocessed", 0)):
        m.add("alertmanager_alerts", {"state": state}, gauge(value))
    for status in ("firing", "resolved"):
        m.add("alertmanager_alerts_received_total", {"status": status, "version": "v2"}, counter(2))
    m.add("alertmanager_alerts_invalid_total", {"version": "v2"}, gauge(0))
    for integration in ("email", "pagerduty", "slack"):
        i = {"integration": integration}
        m.add("alertmanager_notifications_total", i, counter(0.5))
        m.add("alertmanager_notification_requests_total", i, counter(0.5))
        m.add("alertmanager_notification_requests_failed_total", i, counter(0.01))
        for reason in ("other", "clientError", "serverError"):
            m.add("alertmanager_notifications_failed_total", {**i, "reason": reason}, gauge(0))
        m.hist("alertmanager_notification_latency_seconds", i, 0.5, ("1", "5", "10", "15", "20"))
    for state, value in (("active", 1), ("expired", 4), ("pending", 0)):
        m.add("alertmanager_silences", {"state": state}, gauge(value))
    # One replica: the operator turns cluster mode off, so the cluster gauges (members, failed peers,
    # health score) are not registered at all.
    m.add("alertmanager_cluster_enabled", {}, gauge(0))
    m.add("alertmanager_config_last_reload_successful", {}, gauge(1))
    m.add("alertmanager_config_last_reload_success_timestamp_seconds", {}, LAST_RUN)
    m.add("alertmanager_config_hash", {}, gauge(1.2e14))
    config_reloader(s, p, "alertmanager")


def prometheus_operator(s: Series) -> None:
    m = Scraped(s, target(role_pod("prometheus-operator"), "prometheus-operator", "http", 8080))
    m.add("prometheus_operator_build_info", {"version": "0.93.0", "branch": "HEAD", "revision": "x",
                                           "goversion": "go1.25"}, gauge(1))
    for controller, resource in (("prometheus", "servicemonitors"), ("alertmanager", "alertmanagerconfigs")):
        c = {"controller": controller}
        m.add("prometheus_operator_reconcile_operations_total", c, counter(1))
        m.add("prometheus_operator_reconcile_errors_total", c, gauge(0))
        m.add("prometheus_operator_list_operations_total", c, counter(0.2))
        m.add("prometheus_operator_list_operations_failed_total", c, gauge(0))
        m.add("prometheus_operator_watch_operations_total", c, counter(0.2))
        m.add("prometheus_operator_watch_operations_failed_total", c, gauge(0))
        m.add("prometheus_operator_status_update_operations_total", c, counter(0.5))
        m.add("prometheus_operator_status_update_errors_total", c, gauge(0))
        m.add("prometheus_operator_ready", c, gauge(1))
        for status, value in (("ok", 1), ("failed", 0)):
            m.add("prometheus_operator_syncs", {**c, "status": status}, gauge(value))
        for state, value in (("selected", 12), ("rejected", 0)):
            m.add("prometheus_operator_managed_resources", {**c, "resource": resource, "state": state}, gauge(value))


def grafana(s: Series) -> None:
    m = Scraped(s, target(pod("grafana"), "grafana", "http", 3000))
    m.add("grafana_build_info", {"version": "12.4.2", "edition": "oss", "revision": "x", "goversion": "go1.25"},
        gauge(1))
    for handler, method in (("/api/ds/query", "POST"), ("/api/dashboards/uid/:uid", "GET")):
        for code, rate in (("200", 30), ("500", 0.3)):
            m.hist("grafana_http_request_duration_seconds",
                 {"handler": handler, "method": method, "status_code": code}, rate)
    for name, kind in (("Prometheus", "prometheus"), ("Mimir", "prometheus"), ("Loki", "loki"), ("Tempo", "tempo")):
        for code, rate in (("200", 20), ("500", 0.2)):
            labels = {"datasource": name, "datasource_type": kind, "code": code, "method": "POST",
                      "secure_socks_ds_proxy_enabled": "false"}
            m.add("grafana_datasource_request_total", labels, counter(rate))
            m.hist("grafana_datasource_request_duration_seconds", labels, rate)
    m.add("grafana_stat_totals_dashboard", {}, gauge(30))
    m.add("grafana_stat_active_users", {}, gauge(3))


# --- Loki, Mimir, Tempo: each role's series, in both layouts ---------------------------------------------

def backend_targets(backend: str, role: str) -> list[dict[str, str]]:
    """The targets exporting `role`'s series: the single process, and the role's own pod."""
    single = next(p for p in PODS if p.workload == backend)
    split = role_pod(f"{backend}-{role}")
    found = [target(split, split.workload, "http", PORTS[backend])]
    if split.workload not in NOT_IN_SINGLE:
        found.append(target(single, backend, "http", PORTS[backend]))
    return found


def each_role(s: Series, backend: str, write) -> None:
    """`write(m, role)` for every role, on both layouts' targets (one Scraped per pod)."""
    scraped: dict[str, Scraped] = {}
    for role in ROLES[backend]:
        for t in backend_targets(backend, role):
            if t["pod"] not in scraped:
                scraped[t["pod"]] = m = Scraped(s, t)
                m.add(f"{'cortex' if backend == 'mimir' else backend}_build_info",
                      {"version": "x", "branch": "HEAD", "revision": "x", "goversion": "go1.25"}, gauge(1))
            write(scraped[t["pod"]], role)


def loki(s: Series) -> None:
    tenant = {"tenant": "fake"}

    def write(m, role):
        if role == "write":
            stream = {**tenant, "is_internal_stream": "false"}
            m.add("loki_distributor_lines_received_total", stream, counter(6000))
            m.add("loki_distributor_bytes_received_total", {**stream, "retention_hours": "720"}, counter(1.2e6))
            m.add("loki_discarded_samples_total", {**tenant, "reason": "line_too_long"}, counter(1))
            m.add("loki_discarded_bytes_total", {**tenant, "reason": "line_too_long"}, counter(300))
            m.add("loki_ingester_memory_streams", tenant, gauge(40))
            m.add("loki_ingester_chunks_flushed_total", {"reason": "idle"}, counter(2))
            m.add("loki_ingester_chunks_flush_failures_total", {}, gauge(0))
            m.add("loki_ingester_flush_queue_length", {}, gauge(0))
            m.requests("loki_request_duration_seconds", "loki_api_v1_push", "POST", "204", "500")
            m.requests("loki_request_duration_seconds", "/logproto.Pusher/Push", "gRPC", "success", "error")
        elif role == "read":
            for route in ("loki_api_v1_query_range", "loki_api_v1_query", "loki_api_v1_labels"):
                m.requests("loki_request_duration_seconds", route, "GET", "200", "500", 10)
            m.requests("loki_request_duration_seconds", "/logproto.Querier/Query", "gRPC", "success", "error", 10)
        else:
            m.add("loki_boltdb_shipper_compact_tables_operation_total", {"status": "success"}, counter(0.1))
            m.add("loki_boltdb_shipper_compact_tables_operation_total", {"status": "failure"}, gauge(0))
            m.add("loki_boltdb_shipper_compact_tables_operation_last_successful_run_timestamp_seconds", {}, LAST_RUN)
            m.add("loki_boltdb_shipper_compact_tables_operation_duration_seconds", {}, gauge(4))
            m.add("loki_compactor_apply_retention_operation_total", {"status": "success"}, counter(0.1))
            m.add("loki_compactor_apply_retention_operation_total", {"status": "failure"}, gauge(0))
            m.add("loki_compactor_apply_retention_last_successful_run_timestamp_seconds", {}, LAST_RUN)
            m.add("loki_compactor_apply_retention_operation_duration_seconds", {}, gauge(2))
    each_role(s, "loki", write)


def mimir(s: Series) -> None:
    user = {"user": "anonymous"}
    objstore = {"distributor": None, "querier": "querier", "query-frontend": None, "query-scheduler": None,
                "ingester": "ingester", "store-gateway": "store-gateway", "compactor": "compactor"}

    def write(m, role):
        if role == "distributor":
            m.requests("cortex_request_duration_seconds", "api_v1_push", "POST", "200", "500")
            m.add("cortex_distributor_received_samples_total", user, counter(240_000))
            m.add("cortex_distributor_samples_in_total", user, counter(240_000))
            m.add("cortex_discarded_samples_total", {**user, "reason": "sample-out-of-order"}, counter(2))
        elif role == "ingester":
            m.requests("cortex_request_duration_seconds", "/cortex.Ingester/Push", "gRPC", "success", "error")
            m.add("cortex_ingester_memory_series", {}, gauge(120_000))
            m.add("cortex_ingester_memory_users", {}, gauge(1))
            m.add("cortex_ingester_ingested_samples_total", user, counter(240_000))
        elif role == "query-frontend":
            for route in ("prometheus_api_v1_query_range", "prometheus_api_v1_query", "prometheus_api_v1_labels"):
                m.requests("cortex_request_duration_seconds", route, "GET", "200", "500", 10)
            m.add("cortex_query_frontend_queue_length", user, gauge(0))
        elif role == "query-scheduler":
            m.add("cortex_query_scheduler_queue_length", user, gauge(0))
            m.hist("cortex_query_scheduler_queue_duration_seconds", {}, 30)
        elif role == "querier":
            for route in ("prometheus_api_v1_query_range", "prometheus_api_v1_query"):
                m.requests("cortex_querier_request_duration_seconds", route, "GET", "200", "500", 10)
        elif role == "store-gateway":
            m.requests("cortex_request_duration_seconds", "/gatewaypb.StoreGateway/Series", "gRPC", "success",
                     "error", 10)
        else:
            m.add("cortex_compactor_runs_started_total", {}, counter(0.016))
            m.add("cortex_compactor_runs_completed_total", {}, counter(0.016))
            m.add("cortex_compactor_runs_failed_total", {"reason": "error"}, gauge(0))
            m.add("cortex_compactor_last_successful_run_timestamp_seconds", {}, LAST_RUN)
            m.add("cortex_compactor_blocks_marked_for_deletion_total", {"reason": "compaction"}, counter(0.1))
            m.add("cortex_compactor_blocks_cleaned_total", {}, counter(0.1))
            m.add("cortex_bucket_blocks_count", user, gauge(140))
            m.add("cortex_bucket_index_last_successful_update_timestamp_seconds", user, LAST_RUN)
        if objstore.get(role):
            for operation in ("get", "upload", "iter", "delete"):
                o = {"bucket": objstore[role], "component": objstore[role], "operation": operation}
                m.add("thanos_objstore_bucket_operations_total", o, counter(5))
                m.add("thanos_objstore_bucket_operation_failures_total", o, counter(0.01))
                m.hist("thanos_objstore_bucket_operation_duration_seconds", o, 5)
    each_role(s, "mimir", write)


def tempo(s: Series) -> None:
    tenant = {"tenant": "single-tenant"}

    def write(m, role):
        if role == "distributor":
            m.add("tempo_distributor_spans_received_total", tenant, counter(3000))
            m.add("tempo_distributor_bytes_received_total", tenant, counter(1.5e6))
            m.add("tempo_discarded_spans_total", {**tenant, "reason": "rate_limited"}, counter(1))
            ingester, generator = {"ingester": "10.0.3.30:9095"}, {"metrics_generator": "10.0.3.40:9095"}
            m.add("tempo_distributor_ingester_appends_total", ingester, counter(60))
            m.add("tempo_distributor_metrics_generator_pushes_total", generator, counter(60))
            # The failure counters (per ingester / generator address) appear only with a first failure.
        elif role == "ingester":
            m.requests("tempo_request_duration_seconds", "/tempopb.Pusher/PushBytesV2", "gRPC", "success", "error")
            m.add("tempo_ingester_traces_created_total", tenant, counter(300))
            m.add("tempo_ingester_blocks_flushed_total", {}, counter(0.1))
            m.add("tempo_ingester_failed_flushes_total", {}, gauge(0))
            m.hist("tempo_ingester_flush_duration_seconds", {}, 0.1, ("1", "2", "4", "8", "16", "32"))
        elif role == "query-frontend":
            for route in ("api_search", "api_traces_traceid", "api_v2_traces_traceid", "api_search_tags"):
                m.requests("tempo_request_duration_seconds", route, "GET", "200", "500", 5)
        elif role == "querier":
            for route in ("querier_api_search", "querier_api_traces_traceid"):
                m.requests("tempo_request_duration_seconds", route, "GET", "200", "500", 5)
        elif role == "compactor":
            m.add("tempodb_compaction_blocks_total", {"level": "0"}, counter(0.2))
            m.add("tempodb_compaction_errors_total", {}, gauge(0))
            m.add("tempodb_compaction_outstanding_blocks", tenant, gauge(2))
            m.add("tempodb_blocklist_length", tenant, gauge(80))
            m.add("tempodb_retention_deleted_total", {}, counter(0.05))
            m.add("tempodb_retention_errors_total", {}, gauge(0))
        else:
            m.add("tempo_metrics_generator_spans_received_total", tenant, counter(3000))
            m.add("tempo_metrics_generator_bytes_received_total", tenant, counter(1.5e6))
            m.add("tempo_metrics_generator_spans_discarded_total",
                  {**tenant, "reason": "outside_metrics_ingestion_slack"}, counter(0.5))
            m.add("tempo_metrics_generator_registry_active_series", tenant, gauge(900))
            for processor in ("service-graphs", "span-metrics"):
                m.add("tempo_metrics_generator_active_processors", {**tenant, "processor": processor}, gauge(1))
            remote_write(m, {**tenant, "remote_name": "5f0b3c",
                               "url": "http://mimir-distributor.monitoring.svc.cluster.local:8080/api/v1/push"})
            m.add("prometheus_remote_storage_highest_timestamp_in_seconds", tenant, TIMESTAMP_NOW)
    each_role(s, "tempo", write)


# --- The node agents (PodMonitors: job = <namespace>/<PodMonitor>, instance = the node) -------------

def agent_targets(workload: str, endpoint: str, port: int) -> list[dict[str, str]]:
    return [target(p, f"{p.namespace}/{workload}", endpoint, port, service="", instance=p.node)
            for p in PODS if p.workload == workload and p.owner_kind == "DaemonSet"]


def fluent_bit(s: Series) -> None:
    for t in agent_targets("fluent-bit", "http", 2020):
        up(s, t)
        s.add("fluentbit_build_info", {**t, "version": "4.2.0", "edition": "Community", "os": "linux"}, gauge(1))
        s.add("fluentbit_uptime", {**t, "hostname": t["pod"]}, TIMESTAMP_NOW)
        for name, records in (("tail.0", 600), ("tail.1", 60)):
            s.add("fluentbit_input_records_total", {**t, "name": name}, counter(records))
            s.add("fluentbit_input_bytes_total", {**t, "name": name}, counter(records * 200))
        for name in ("loki.0", "loki.1"):
            o = {**t, "name": name}
            s.add("fluentbit_output_proc_records_total", o, counter(330))
            s.add("fluentbit_output_proc_bytes_total", o, counter(66000))
            s.add("fluentbit_output_errors_total", o, counter(0.05))
            s.add("fluentbit_output_retries_total", o, counter(0.05))
            s.add("fluentbit_output_retries_failed_total", o, gauge(0))
            s.add("fluentbit_output_retried_records_total", o, counter(1))
            s.add("fluentbit_output_dropped_records_total", o, gauge(0))
        for name, value in (("chunks", 6), ("mem_chunks", 2), ("fs_chunks", 4), ("fs_chunks_up", 3),
                            ("fs_chunks_down", 1)):
            s.add(f"fluentbit_storage_{name}", t, gauge(value))


def otebpf(s: Series) -> None:
    """OBI's internal metrics (the `int-metrics` endpoint); the application metrics are in synthetic_openemr."""
    for t in agent_targets("otebpf", "int-metrics", 9401):
        up(s, t)
        s.add("obi_internal_build_info", {**t, "version": "v1.0.0", "revision": "x", "goarch": "amd64",
                                          "goos": "linux", "goversion": "go1.25"}, gauge(1))
        s.add("obi_instrumented_processes", {**t, "process_name": "httpd"}, gauge(5))
        s.add("obi_instrumentation_errors_total", {**t, "process_name": "php", "error_type": "no_symbols"},
              counter(0.01))
        s.add("obi_otel_trace_exports_total", t, counter(600))
        s.add("obi_otel_trace_export_errors_total", {**t, "error": "context deadline exceeded"}, counter(0.01))
        s.add("obi_prometheus_http_requests_total", {**t, "port": "9400", "path": "/metrics"}, counter(2))
        histogram(s, "obi_ebpf_tracer_flushes", t, 60, ("0", "10", "20", "40", "80", "160", "320"))


EXPORTERS = [prometheus, alertmanager, prometheus_operator, grafana, loki, mimir, tempo, fluent_bit, otebpf]
