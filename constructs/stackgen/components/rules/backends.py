"""The stack's backends and agents from their own metrics at the pinned versions: Loki 3.7, Tempo 2.10,
Mimir 2.17, Fluent Bit 4.2, OTeBPF (OBI) 1.0, Grafana 12.4.

Latency alerts read per-route 99th percentiles recorded here, leaving out the long-polling routes that
are slow by design (tails, the scheduler and frontend loops). A backend that is down (LokiDown,
TempoDown, MimirDown) inhibits the alerts of its senders (alertmanager.py).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from stackgen.components import fluent_bit_events, loki, mimir, tempo
from stackgen.lib.alerts import Alert, Record

if TYPE_CHECKING:
    from stackgen.config import StackConfig

STREAMING = {
    "loki": "(?i).*tail.*|/schedulerpb.SchedulerForQuerier/QuerierLoop",
    "tempo": "metrics|/frontend.Frontend/Process|/frontendv1pb.Frontend/Process|debug_pprof|/tempopb.StreamingQuerier/.*",
    "cortex": "metrics|/frontend.Frontend/Process|ready|/schedulerpb.SchedulerForFrontend/FrontendLoop|"
              "/schedulerpb.SchedulerForQuerier/QuerierLoop|debug_pprof",
}
TITLES = {"loki": "Loki", "tempo": "Tempo", "cortex": "Mimir"}


def _error_ratio(metric: str) -> str:
    total = f"sum by (namespace, job) (rate({metric}[5m]))"
    return f'sum by (namespace, job) (rate({metric}{{status_code=~"5.."}}[5m])) / {total} > $threshold'


def _request_rules(prefix: str, latency: float) -> list:
    title, metric = TITLES[prefix], f"{prefix}_request_duration_seconds"
    record = f"namespace_job_route:{metric}:p99_5m"
    return [
        Record(record, f'histogram_quantile(0.99, sum by (namespace, job, route, le) (rate({metric}_bucket'
                       f'{{route!~"{STREAMING[prefix]}"}}[5m])))'),
        Alert(f"{title}RequestErrors", _error_ratio(f"{metric}_count"), "warning",
              f"{title} {{{{ $labels.job }}}} fails {{{{ $value | humanizePercentage }}}} of requests",
              f"{{{{ $value | humanizePercentage }}}} of the requests to {title} {{{{ $labels.namespace }}}}/"
              "{{ $labels.job }} end in a 5xx (threshold $threshold).", "15m", 0.05, "ratio"),
        Alert(f"{title}RequestLatency", f"{record} > $threshold", "warning",
              f"{title} {{{{ $labels.job }}}} {{{{ $labels.route }}}} is slow",
              f"The 99th percentile of {title} {{{{ $labels.job }}}} route {{{{ $labels.route }}}} is "
              "{{ $value | humanizeDuration }} (threshold $threshold).", "15m", latency, "seconds"),
    ]


def _down(title: str, job: str) -> Alert:
    return Alert(f"{title}Down", f'absent(up{{job="{job}"}} == 1)', "critical", f"{title} is down",
                 f"No {job} target has answered Prometheus for 5 minutes (absent={{{{ $value }}}}): nothing can be "
                 f"written to {title}; its senders' retry alerts are inhibited.", "5m")


def _stale(name: str, metric: str, what: str, threshold: float, by: str = "namespace") -> Alert:
    return Alert(name, f"time() - max by ({by}) ({metric}) > $threshold", "warning",
                 f"{what} has not succeeded for {{{{ $value | humanizeDuration }}}}",
                 f"{what} in {{{{ $labels.namespace }}}} last succeeded {{{{ $value | humanizeDuration }}}} ago "
                 "(threshold $threshold).", "1h", threshold, "seconds")


def _increase(name: str, metric: str, window: str, summary: str, description: str, for_: str,
              severity: str = "warning", by: str = "namespace, job") -> Alert:
    return Alert(name, f"sum by ({by}) (increase({metric}[{window}])) > $threshold", severity, summary,
                 description + " (threshold $threshold).", for_, 0)


def _gossip(title: str, metric: str) -> Alert:
    return Alert(f"{title}GossipMembersMismatch",
                 f"max by (namespace) ({metric}) - min by (namespace) ({metric}) > 0", "warning",
                 f"{title}'s memberlist members disagree",
                 f"{title} instances in {{{{ $labels.namespace }}}} see memberlist clusters that differ by {{{{ $value }}}} "
                 "members for 15 minutes: the gossip ring is partitioned (port 7946).", "15m")


def _object_store_errors(name: str, title: str, counts: str) -> Alert:
    """Failed S3 requests by operation, from a request-duration histogram's counts by status code."""
    by = "namespace, operation"
    return Alert(name, f'sum by ({by}) (rate({counts}{{status_code=~"5..|error"}}[5m])) / '
                       f"sum by ({by}) (rate({counts}[5m])) > $threshold", "warning",
                 f"{title}'s object store fails {{{{ $labels.operation }}}} requests",
                 f"{{{{ $value | humanizePercentage }}}} of {title}'s {{{{ $labels.operation }}}} requests to S3 fail "
                 "(threshold $threshold).", "15m", 0.05, "ratio")


def _loki(stack: StackConfig) -> list:
    return [
        _down("Loki", loki.push_service(stack)), *_request_rules("loki", 1),
        Alert("LokiIngestionRefused", "sum by (namespace, reason) (rate(loki_discarded_samples_total[5m])) > $threshold",
              "warning", "Loki refuses log lines ({{ $labels.reason }})",
              "Loki in {{ $labels.namespace }} discards {{ $value | humanize }} lines per second for reason "
              "{{ $labels.reason }} (threshold $threshold): logs are being dropped.", "15m", 0),
        _increase("LokiRequestPanics", "loki_panic_total", "10m", "Loki {{ $labels.job }} panics",
                  "{{ $labels.job }} recovered from {{ $value | humanize }} panics in 10 minutes", "5m", "critical"),
        _increase("LokiIngesterFlushFailing", "loki_ingester_chunks_flush_failures_total", "10m",
                  "Loki ingesters fail to flush chunks to S3", "{{ $labels.job }} failed {{ $value | humanize }} "
                  "chunk flushes in 10 minutes; unflushed chunks live only in the WAL", "15m"),
        _stale("LokiRetentionNotRunning", "loki_compactor_apply_retention_last_successful_run_timestamp_seconds",
               "Loki retention", 86400),
        _stale("LokiCompactorNotRunning",
               "loki_boltdb_shipper_compact_tables_operation_last_successful_run_timestamp_seconds",
               "Loki's index compaction", 10800),
        # Loki's own S3 client (storage_config.use_thanos_objstore is off).
        _object_store_errors("LokiObjectStoreErrors", "Loki", "loki_s3_request_duration_seconds_count"),
        _gossip("Loki", "loki_memberlist_client_cluster_members_count"),
    ]


def _tempo(stack: StackConfig) -> list:
    backend = "tempodb_backend_request_duration_seconds_count"
    return [
        _down("Tempo", tempo.otlp_service(stack)), *_request_rules("tempo", 3),
        Alert("TempoDiscardingSpans", "sum by (namespace, reason) (rate(tempo_discarded_spans_total[5m])) > $threshold",
              "warning", "Tempo discards spans ({{ $labels.reason }})",
              "Tempo in {{ $labels.namespace }} discards {{ $value | humanize }} spans per second for reason "
              "{{ $labels.reason }} (threshold $threshold): traces are incomplete.", "15m", 0),
        _increase("TempoRetentionFailing", "tempodb_retention_errors_total", "1h", "Tempo retention fails",
                  "{{ $labels.job }} had {{ $value | humanize }} retention errors in an hour: expired trace blocks "
                  "are not deleted", "5m"),
        _increase("TempoCompactionsFailing", "tempodb_compaction_errors_total", "1h", "Tempo compactions fail",
                  "{{ $labels.job }} had {{ $value | humanize }} compaction errors in an hour", "15m"),
        _increase("TempoIngesterFlushesFailing", "tempo_ingester_failed_flushes_total", "1h",
                  "Tempo ingesters fail to flush blocks", "{{ $labels.job }} failed {{ $value | humanize }} block "
                  "flushes in an hour", "5m"),
        Alert("TempoCompactionBacklog", "sum by (namespace) (tempodb_compaction_outstanding_blocks) > $threshold",
              "warning", "Tempo's compaction backlog is {{ $value }} blocks",
              "{{ $value }} blocks wait for compaction in {{ $labels.namespace }} (threshold $threshold): queries "
              "slow down and retention lags.", "1h", 100),
        _object_store_errors("TempoBackendErrors", "Tempo", backend),
        _gossip("Tempo", "tempo_memberlist_client_cluster_members_count"),
    ]


def _mimir(stack: StackConfig) -> list:
    objstore = "thanos_objstore_bucket_operation{}_total"
    by = "namespace, component, operation"
    return [
        _down("Mimir", mimir.push_service(stack)), *_request_rules("cortex", 2.5),
        Alert("MimirIngestionRejected", "sum by (namespace, reason) (rate(cortex_discarded_samples_total[5m])) > "
              "$threshold", "warning", "Mimir discards samples ({{ $labels.reason }})",
              "Mimir in {{ $labels.namespace }} discards {{ $value | humanize }} samples per second for reason "
              "{{ $labels.reason }} (threshold $threshold): long-term metrics are incomplete.", "15m", 0),
        Alert("MimirIngesterInstanceRejecting", "sum by (namespace, instance, reason) (rate("
              "cortex_ingester_instance_rejected_requests_total[5m])) > $threshold", "warning",
              "Mimir ingester {{ $labels.instance }} rejects writes ({{ $labels.reason }})",
              "Ingester {{ $labels.instance }} rejects {{ $value | humanize }} requests per second at its instance "
              "limit {{ $labels.reason }} (threshold $threshold).", "15m", 0),
        Alert("MimirDistributorInstanceRejecting", "sum by (namespace, instance, reason) (rate("
              "cortex_distributor_instance_rejected_requests_total[5m])) > $threshold", "warning",
              "Mimir distributor {{ $labels.instance }} rejects writes ({{ $labels.reason }})",
              "Distributor {{ $labels.instance }} rejects {{ $value | humanize }} requests per second at its instance "
              "limit {{ $labels.reason }} (threshold $threshold).", "15m", 0),
        _increase("MimirIngesterTSDBCompactionFailed", "cortex_ingester_tsdb_compactions_failed_total", "2h",
                  "Mimir ingester TSDB compactions fail", "{{ $labels.job }} failed {{ $value | humanize }} TSDB head "
                  "compactions in 2 hours", "15m", "critical"),
        _increase("MimirIngesterShipperFailing", "cortex_ingester_shipper_upload_failures_total", "1h",
                  "Mimir ingesters fail to upload blocks", "{{ $labels.job }} failed {{ $value | humanize }} block "
                  "uploads to S3 in an hour", "15m", "critical"),
        _increase("MimirCompactorFailing", "cortex_compactor_runs_failed_total", "2h", "Mimir's compactor fails",
                  "{{ $labels.job }} had {{ $value | humanize }} failed compaction runs in 2 hours", "15m"),
        _stale("MimirCompactorNotRunning", "cortex_compactor_last_successful_run_timestamp_seconds",
               "Mimir's compactor", 86400),
        _stale("MimirBucketIndexNotUpdated", "cortex_bucket_index_last_successful_update_timestamp_seconds",
               "Mimir's bucket index", 7200),
        Alert("MimirObjectStoreErrors", f"sum by ({by}) (rate({objstore.format('_failures')}[5m])) / sum by ({by}) "
              f"(rate({objstore.format('s')}[5m])) > $threshold", "warning",
              "Mimir {{ $labels.component }} fails {{ $labels.operation }} on S3",
              "{{ $value | humanizePercentage }} of the {{ $labels.operation }} operations of Mimir "
              "{{ $labels.component }} on S3 fail (threshold $threshold).", "15m", 0.05, "ratio"),
        _gossip("Mimir", "memberlist_client_cluster_members_count"),
        Alert("RingMembersUnhealthy", 'max by (namespace, job, name) (cortex_ring_members{state="Unhealthy"}) > 0 or '
              'max by (namespace, job, name) (tempo_ring_members{state="Unhealthy"}) > 0 or '
              'max by (namespace, job, name) (loki_ring_members{state="Unhealthy"}) > 0', "critical",
              "{{ $labels.job }} ring {{ $labels.name }} has unhealthy members",
              "Ring {{ $labels.name }} of {{ $labels.namespace }}/{{ $labels.job }} has {{ $value }} unhealthy "
              "members: writes may fail to reach enough replicas.", "15m"),
    ]


def _agents(stack: StackConfig) -> list:
    ns, agents_ns = stack.namespace, stack.agents_namespace
    daemonsets = "|".join(["fluent-bit", *(["otebpf"] if stack.otebpf.enabled else [])])
    on_node = "Fluent Bit on {{ $labels.instance }}"
    found = [
        _increase("FluentBitRetriesFailing", "fluentbit_output_retries_failed_total", "10m",
                  f"{on_node} gives up retries", f"Output {{{{ $labels.name }}}} of {on_node} gave up "
                  "{{ $value | humanize }} retries in 10 minutes: Loki refuses or is unreachable", "5m",
                  by="instance, node, name"),
        _increase("FluentBitDroppingRecords", "fluentbit_output_dropped_records_total", "10m",
                  f"{on_node} drops log records", f"Output {{{{ $labels.name }}}} of {on_node} dropped "
                  "{{ $value | humanize }} records in 10 minutes: the audit trail has a gap", "0m", "critical",
                  by="instance, node, name"),
        Alert("FluentBitOutputErrors", "sum by (instance, node, name) (rate(fluentbit_output_errors_total[5m])) > "
              "$threshold", "warning", f"{on_node} fails to deliver chunks",
              f"Output {{{{ $labels.name }}}} of {on_node} fails {{{{ $value | humanize }}}} chunks per second "
              "(threshold $threshold); they are retried.", "15m", 0),
        Alert("FluentBitNotReadingLogs", 'sum by (instance, node) (rate(fluentbit_input_records_total{name=~"tail.*"}'
              "[15m])) <= $threshold", "warning", f"{on_node} reads no container logs",
              f"{on_node} read {{{{ $value }}}} records per second from /var/log/containers for 30 minutes: its tail "
              "input is stuck or the node runs no container.", "30m", 0),
        Alert("CollectorNotRunning", f'kube_daemonset_status_desired_number_scheduled{{namespace="{agents_ns}", '
              f'daemonset=~"{daemonsets}"}} - kube_daemonset_status_number_ready{{namespace="{agents_ns}", '
              f'daemonset=~"{daemonsets}"}} > 0', "warning",
              "{{ $labels.daemonset }} is not running on {{ $value }} node(s)",
              "{{ $labels.daemonset }} has no ready pod on {{ $value }} node(s): they send no traces, RED metrics or "
              "logs.", "10m"),
        Alert("GrafanaDown", f'sum by (namespace, job) (up{{namespace="{ns}", job="grafana"}}) == 0 or '
              f'absent(up{{namespace="{ns}", job="grafana"}})', "warning", "Grafana is down",
              "Grafana in " + ns + " answers no scrape (up={{ $value }}): dashboards are unavailable; alerting is not "
              "affected.", "5m"),
        Alert("GrafanaRequestErrors", 'sum by (namespace, job) (rate(grafana_http_request_duration_seconds_count'
              '{status_code=~"5.."}[5m])) / sum by (namespace, job) (rate(grafana_http_request_duration_seconds_count'
              "[5m])) > $threshold", "warning", "Grafana fails {{ $value | humanizePercentage }} of its requests",
              "{{ $value | humanizePercentage }} of the HTTP requests to {{ $labels.namespace }}/{{ $labels.job }} "
              "end in a 5xx (threshold $threshold).", "15m", 0.05, "ratio"),
        Alert("GrafanaDatasourceErrors", 'sum by (namespace, datasource) (rate(grafana_datasource_request_total'
              '{code=~"5..|error"}[5m])) / sum by (namespace, datasource) (rate(grafana_datasource_request_total[5m])) '
              "> $threshold", "warning", "Grafana's queries to {{ $labels.datasource }} fail",
              "{{ $value | humanizePercentage }} of Grafana's requests to data source {{ $labels.datasource }} fail "
              "(threshold $threshold).", "15m", 0.1, "ratio"),
    ]
    if fluent_bit_events.enabled(stack):
        job = f"{ns}/{fluent_bit_events.NAME}"  # a PodMonitor's job: <namespace>/<name>
        found.append(Alert(
            "KubernetesEventsNotShipped", f'absent(up{{job="{job}"}} == 1)', "warning",
            "Kubernetes events are not shipped to Loki",
            f"No {fluent_bit_events.NAME} replica has answered Prometheus for 10 minutes (absent={{{{ $value }}}}): "
            "events (why pods are pending, evicted or failing) are not reaching Loki.", "10m"))
    if stack.otebpf.enabled:
        found += [
            _increase("OTeBPFInstrumentationErrors", "obi_instrumentation_errors_total", "10m",
                      "OTeBPF on {{ $labels.instance }} fails to instrument processes",
                      "OTeBPF on {{ $labels.instance }} failed {{ $value | humanize }} instrumentations in 10 minutes: "
                      "some pods send no traces or RED metrics", "15m", by="instance, node"),
            Alert("OTeBPFTraceExportErrors", "sum by (instance, node) (rate(obi_otel_trace_export_errors_total[5m])) / "
                  "sum by (instance, node) (rate(obi_otel_trace_exports_total[5m])) > $threshold", "warning",
                  "OTeBPF on {{ $labels.instance }} fails to export traces",
                  "{{ $value | humanizePercentage }} of the trace exports of OTeBPF on {{ $labels.instance }} to Tempo "
                  "fail (threshold $threshold).", "15m", 0.05, "ratio"),
        ]
    return found


def groups(stack: StackConfig) -> dict[str, list]:
    return {"logs-traces-metrics": [*_loki(stack), *_tempo(stack), *_mimir(stack)], "stack": _agents(stack)}
