"""The metrics pipeline's own dashboards: Prometheus (overview, remote write), Alertmanager, the Prometheus
Operator, Mimir (writes, reads, compactor and object store) and Grafana. Modelled on the Prometheus,
Alertmanager and Mimir mixins, reduced to what our layouts run and scrape.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from stackgen.dashboards.panels import CLUSTER, STACK, Board, Row, namespace_var, prom, stat, timeseries
from stackgen.dashboards.stack_panels import (
    TAGS,
    agg,
    error_ratio,
    jobs,
    latency,
    or_none,
    quantile,
    rate,
    red,
    resources,
    sel,
    since,
)

if TYPE_CHECKING:
    from stackgen.config import StackConfig

SERVER = 'job="prometheus", container="prometheus"'  # Prometheus itself, not its config-reloader
ALERTMANAGER = 'job="alertmanager", container="alertmanager"'


def reloader(job: str) -> str:
    """The operator's config-reloader sidecar in `job`'s pods."""
    return f'job="{job}", container="config-reloader"'
MIMIR = jobs("mimir")
MIMIR_WRITE_ROUTES = 'route=~"api_(v1|prom)_push|otlp_v1_metrics"'
HTTP_5XX = 'code=~"5.."'
MIMIR_READ_ROUTES = 'route=~"(prometheus|api_prom)_api_v1_.+"'


def prometheus_overview(stack: StackConfig) -> Board:
    up = f"up{{{CLUSTER}}}"
    return Board(
        "stack-prometheus", "Stack / Prometheus / Overview", STACK,
        "Prometheus itself: what it scrapes, what it stores, how its rules and alert notifications fare.",
        [
            stat("Targets up", "Targets whose last scrape succeeded, across every job.", prom(f"sum({up})")),
            stat("Targets down", "Targets whose last scrape failed: their series are stale.",
                 prom(f"count({up}) - sum({up})")),
            stat("Head series", "Series in the in-memory head block, all Prometheus replicas.",
                 prom(agg("sum", "prometheus_tsdb_head_series", SERVER))),
            stat("Configuration reloaded", "1 when every replica and its config-reloader loaded the last "
                 "configuration (rules and scrape configs the operator rendered).",
                 prom(f"min(prometheus_config_last_reload_successful{sel(SERVER)}) * "
                      f"min(reloader_last_reload_successful{sel(reloader('prometheus'))})")),
            Row("Scraping"),
            timeseries("Targets down by job", "Targets of each job whose last scrape failed.",
                       prom(f"count by (job) ({up}) - sum by (job) ({up})", "{{job}}")),
            timeseries("Scrape duration by job", "Slowest scrape of each job; near the scrape timeout, samples go "
                       "missing.", prom(f"max by (job) (scrape_duration_seconds{{{CLUSTER}}})", "{{job}}"), unit="s"),
            timeseries("Samples scraped by job", "Samples each job's targets return per scrape, summed.",
                       prom(f"sum by (job) (scrape_samples_scraped{{{CLUSTER}}})", "{{job}}")),
            timeseries("Scrapes over the sample limit", "Scrapes rejected for exceeding sample_limit (the whole "
                       "scrape is dropped).", prom(rate("prometheus_target_scrapes_exceeded_sample_limit_total",
                                                        SERVER, by="pod"), "{{pod}}")),
            Row("Storage"),
            timeseries("Samples appended", "Samples written to the head block per second, by replica.",
                       prom(rate("prometheus_tsdb_head_samples_appended_total", SERVER, by="pod"), "{{pod}}"),
                       unit="short"),
            timeseries("Head series by replica", "Active series in memory: the main driver of memory use.",
                       prom(agg("sum", "prometheus_tsdb_head_series", SERVER, by="pod"), "{{pod}}")),
            timeseries("Block storage against the size limit",
                       f"Bytes in persisted blocks next to retentionSize ({stack.prometheus.retention_size}): at the "
                       "limit Prometheus deletes the oldest blocks.",
                       prom(agg("sum", "prometheus_tsdb_storage_blocks_bytes", SERVER, by="pod"), "{{pod}} used"),
                       prom(agg("max", "prometheus_tsdb_retention_limit_bytes", SERVER, by="pod"), "{{pod}} limit"),
                       unit="bytes"),
            timeseries("Storage failures", "Failed compactions, failed block reloads and WAL corruptions in the "
                       "last hour; anything above 0 needs a look at the logs.",
                       *(prom(rate(f"prometheus_tsdb_{name}", SERVER, window="1h", fn="increase"), legend)
                         for name, legend in (("compactions_failed_total", "compactions failed"),
                                              ("reloads_failures_total", "reloads failed"),
                                              ("wal_corruptions_total", "WAL corruptions")))),
            Row("Rules"),
            timeseries("Rule group duration", "How long each rule group's last evaluation took.",
                       prom(agg("max", "prometheus_rule_group_last_duration_seconds", SERVER, by="rule_group"),
                            "{{rule_group}}"), unit="s"),
            timeseries("Rule group duration against its interval", "Evaluation time over the group's interval: "
                       "above 100% iterations are missed.",
                       prom(f"max by (rule_group) (prometheus_rule_group_last_duration_seconds{sel(SERVER)}"
                            f" / prometheus_rule_group_interval_seconds{sel(SERVER)})", "{{rule_group}}"),
                       unit="percentunit"),
            timeseries("Rule evaluation failures", "Failed rule evaluations per second, by group.",
                       prom(rate("prometheus_rule_evaluation_failures_total", SERVER, by="rule_group"),
                            "{{rule_group}}")),
            timeseries("Missed rule group iterations", "Iterations skipped in the last hour because the previous "
                       "one was still running.",
                       prom(rate("prometheus_rule_group_iterations_missed_total", SERVER, by="rule_group", window="1h",
                                 fn="increase"), "{{rule_group}}")),
            Row("Alert notifications"),
            timeseries("Notifications sent", "Alert notifications sent to each Alertmanager per second.",
                       prom(rate("prometheus_notifications_sent_total", SERVER, by="alertmanager"),
                            "{{alertmanager}}")),
            timeseries("Notification errors", "Share of notifications to each Alertmanager that failed.",
                       prom(f'{rate("prometheus_notifications_errors_total", SERVER, by="alertmanager")}'
                            f' / {rate("prometheus_notifications_sent_total", SERVER, by="alertmanager")}',
                            "{{alertmanager}}"), unit="percentunit"),
            timeseries("Notification queue", "Queued notifications against the queue capacity, and dropped ones.",
                       prom(agg("max", "prometheus_notifications_queue_length", SERVER, by="pod"), "{{pod}} queued"),
                       prom(agg("max", "prometheus_notifications_queue_capacity", SERVER, by="pod"),
                            "{{pod}} capacity"),
                       prom(rate("prometheus_notifications_dropped_total", SERVER, by="pod"), "{{pod}} dropped/s")),
            timeseries("Alertmanagers discovered", "Alertmanagers each replica sends to; 0 means alerts go nowhere.",
                       prom(agg("min", "prometheus_notifications_alertmanagers_discovered", SERVER, by="pod"),
                            "{{pod}}")),
            *resources("prometheus", "prometheus-.*"),
        ],
        [namespace_var(stack.namespace, "prometheus_build_info")],
        ["stack-prometheus-remote-write", "stack-alertmanager", "stack-prometheus-operator", "k8s-namespace-pods"],
        tags=TAGS)


def remote_write(stack: StackConfig) -> Board:
    queue = "remote_name, url"
    lag = (f"max by (pod, remote_name) (prometheus_remote_storage_highest_timestamp_in_seconds{sel(SERVER)}"
           f" - ignoring({queue}) group_right prometheus_remote_storage_queue_highest_sent_timestamp_seconds"
           f"{sel(SERVER)})")
    return Board(
        "stack-prometheus-remote-write", "Stack / Prometheus / Remote write", STACK,
        "Prometheus' remote write to Mimir: how far behind it is, how many shards send, and what fails.",
        [
            timeseries("Highest timestamp lag", "Newest sample in the WAL minus newest sample Mimir acknowledged: "
                       "how far long-term storage is behind.", prom(lag, "{{pod}} {{remote_name}}"), unit="s"),
            timeseries("Samples sent", "Samples sent per second, by queue.",
                       prom(rate("prometheus_remote_storage_samples_total", SERVER, by="pod, remote_name"),
                            "{{pod}} {{remote_name}}")),
            timeseries("Failed, retried and dropped samples", "Samples per second that failed for good, were "
                       "retried after a recoverable error, or were dropped by relabelling.",
                       *(prom(rate(f"prometheus_remote_storage_samples_{kind}_total", SERVER,
                                   by="remote_name"), f"{{{{remote_name}}}} {kind}")
                         for kind in ("failed", "retried", "dropped"))),
            timeseries("Pending samples", "Samples read from the WAL and waiting in the shards' queues.",
                       prom(agg("sum", "prometheus_remote_storage_samples_pending", SERVER, by="pod, remote_name"),
                            "{{pod}} {{remote_name}}")),
            timeseries("Shards", "Shards running, the number the queue wants, and its bounds: desired at the "
                       "maximum means Mimir cannot keep up.",
                       *(prom(f"max by (remote_name) (prometheus_remote_storage_{name}{sel(SERVER)})",
                              f"{{{{remote_name}}}} {legend}")
                         for name, legend in (("shards", "running"), ("shards_desired", "desired"),
                                              ("shards_max", "max"), ("shards_min", "min")))),
            latency("Batch send duration", "99th and 50th percentile time to send one batch to Mimir.",
                    "prometheus_remote_storage_sent_batch_duration_seconds", SERVER, by="remote_name",
                    width=12),
        ],
        [namespace_var(stack.namespace, "prometheus_build_info")],
        ["stack-prometheus", "stack-mimir-writes"], tags=TAGS)


def alerts_in(state: str) -> str:
    matcher = f'state="{state}"'
    return agg("sum", "alertmanager_alerts", ALERTMANAGER, matcher)


def clustered(metric: str) -> str:
    """A cluster gauge per replica, or 0 for replicas running without cluster mode (which lack it)."""
    return (f'{agg("max", metric, ALERTMANAGER, by="pod")} or '
            f'{agg("max", "alertmanager_cluster_enabled", ALERTMANAGER, by="pod")} * 0')


def alertmanager(stack: StackConfig) -> Board:
    return Board(
        "stack-alertmanager", "Stack / Alertmanager", STACK,
        "Alerts Alertmanager holds, the notifications it sends per integration and what fails, its cluster.",
        [
            stat("Active alerts", "Alerts firing and neither silenced nor inhibited.",
                 prom(alerts_in("active"))),
            stat("Suppressed alerts", "Alerts silenced or inhibited.",
                 prom(alerts_in("suppressed"))),
            stat("Cluster mode", "1 when the replicas gossip as a cluster; the operator turns cluster mode off "
                 "while the Alertmanager runs one replica.",
                 prom(agg("min", "alertmanager_cluster_enabled", ALERTMANAGER))),
            stat("Configuration reloaded", "1 when Alertmanager and its config-reloader both loaded the last "
                 "configuration.", prom(f"min(alertmanager_config_last_reload_successful{sel(ALERTMANAGER)}) * "
                                        f"min(reloader_last_reload_successful{sel(reloader('alertmanager'))})")),
            Row("Alerts"),
            timeseries("Alerts by state", "Alerts held, by state.",
                       prom(agg("sum", "alertmanager_alerts", ALERTMANAGER, by="state"), "{{state}}"), stack=True),
            timeseries("Alerts received", "Alerts received from Prometheus per second, firing and resolved.",
                       prom(rate("alertmanager_alerts_received_total", ALERTMANAGER, by="status"), "{{status}}")),
            timeseries("Invalid alerts", "Alerts rejected as invalid per second.",
                       prom(or_none(rate("alertmanager_alerts_invalid_total", ALERTMANAGER, by="pod"), "pod"),
                            "{{pod}}")),
            timeseries("Silences by state", "Silences active, pending and expired.",
                       prom(agg("max", "alertmanager_silences", ALERTMANAGER, by="state"), "{{state}}")),
            Row("Notifications"),
            timeseries("Notifications by integration", "Notifications attempted per second, by integration.",
                       prom(rate("alertmanager_notifications_total", ALERTMANAGER, by="integration"),
                            "{{integration}}")),
            timeseries("Failed notifications", "Notifications that failed per second, by integration and reason.",
                       prom(rate("alertmanager_notifications_failed_total", ALERTMANAGER, by="integration, reason"),
                            "{{integration}} {{reason}}")),
            latency("Notification latency", "99th and 50th percentile time to deliver a notification.",
                    "alertmanager_notification_latency_seconds", ALERTMANAGER, by="integration", width=12),
            timeseries("Failed notification requests", "Share of requests to each integration that failed (a "
                       "notification may take several).",
                       prom(f'{rate("alertmanager_notification_requests_failed_total", ALERTMANAGER, by="integration")}'
                            f' / {rate("alertmanager_notification_requests_total", ALERTMANAGER, by="integration")}',
                            "{{integration}}"), unit="percentunit"),
            Row("Cluster"),
            timeseries("Cluster peers", "Members and failed peers each replica sees (0 members: cluster mode "
                       "is off, one replica).", prom(clustered("alertmanager_cluster_members"), "{{pod}} members"),
                       prom(clustered("alertmanager_cluster_failed_peers"), "{{pod}} failed")),
            timeseries("Cluster health score", "Gossip health per replica: 0 is healthy (and shown while cluster "
                       "mode is off).", prom(clustered("alertmanager_cluster_health_score"), "{{pod}}")),
            *resources("alertmanager", "alertmanager-.*"),
        ],
        [namespace_var(stack.namespace, "alertmanager_build_info")],
        ["stack-prometheus", "stack-prometheus-operator"], tags=TAGS)


def prometheus_operator(stack: StackConfig) -> Board:
    operator = 'job="prometheus-operator"'
    return Board(
        "stack-prometheus-operator", "Stack / Prometheus Operator", STACK,
        "The operator that turns our CRs into Prometheus and Alertmanager: reconciliations, failures, what "
        "it selected and rejected.",
        [
            timeseries("Reconciliations", "Reconcile operations per second, by controller.",
                       prom(rate("prometheus_operator_reconcile_operations_total", operator, by="controller"),
                            "{{controller}}")),
            timeseries("Reconcile errors", "Failed reconciliations per second, by controller.",
                       prom(rate("prometheus_operator_reconcile_errors_total", operator, by="controller"),
                            "{{controller}}")),
            timeseries("Objects by sync status", "Prometheus/Alertmanager objects per sync status: failed or "
                       "degraded objects are not applied.",
                       prom(agg("sum", "prometheus_operator_syncs", operator, by="controller, status"),
                            "{{controller}} {{status}}")),
            timeseries("Managed resources", "Monitors, rules and configs selected or rejected (a rejected one "
                       "is invalid and ignored).",
                       prom(agg("sum", "prometheus_operator_managed_resources", operator,
                                by="controller, resource, state"),
                            "{{controller}} {{resource}} {{state}}")),
            timeseries("List and watch failures", "Failed list and watch calls to the API server per second.",
                       prom(rate("prometheus_operator_list_operations_failed_total", operator, by="controller"),
                            "{{controller}} list"),
                       prom(rate("prometheus_operator_watch_operations_failed_total", operator, by="controller"),
                            "{{controller}} watch")),
            timeseries("Status update errors", "Failed status updates of our CRs per second.",
                       prom(rate("prometheus_operator_status_update_errors_total", operator, by="controller"),
                            "{{controller}}")),
        ],
        [namespace_var(stack.namespace, "prometheus_operator_build_info")],
        ["stack-prometheus", "stack-alertmanager"], tags=TAGS)


def mimir_writes(stack: StackConfig) -> Board:
    return Board(
        "stack-mimir-writes", "Stack / Mimir / Writes", STACK,
        "Mimir's write path: remote-write requests at the distributors, samples accepted and discarded, the "
        "ingesters' pushes and in-memory series.",
        [
            stat("Samples received", "Samples per second the distributors received.",
                 prom(rate("cortex_distributor_received_samples_total", MIMIR)), unit="short"),
            stat("In-memory series", "Series the ingesters hold (each replicated series counts per replica).",
                 prom(agg("sum", "cortex_ingester_memory_series", MIMIR))),
            stat("Tenants", "Tenants with series in the ingesters.",
                 prom(agg("max", "cortex_ingester_memory_users", MIMIR))),
            stat("Discarded samples", "Samples per second rejected by validation or limits.",
                 prom(or_none(rate("cortex_discarded_samples_total", MIMIR)))),
            Row("Distributor"),
            *red("Push", "Remote-write requests", "cortex_request_duration_seconds", MIMIR, MIMIR_WRITE_ROUTES),
            timeseries("Samples received by tenant", "Samples per second received, before and after HA "
                       "deduplication and validation.",
                       prom(rate("cortex_distributor_samples_in_total", MIMIR, by="user"), "{{user}} in"),
                       prom(rate("cortex_distributor_received_samples_total", MIMIR, by="user"), "{{user}} accepted")),
            timeseries("Discarded samples by reason", "Samples per second rejected, by reason (\"none\": nothing "
                       "was rejected).",
                       prom(or_none(rate("cortex_discarded_samples_total", MIMIR, by="reason"), "reason"),
                                             "{{reason}}")),
            Row("Ingester"),
            *red("Ingester push", "Pushes from the distributors", "cortex_request_duration_seconds", MIMIR,
                 'route="/cortex.Ingester/Push"'),
            timeseries("In-memory series by pod", "Series each ingester holds: memory grows with them.",
                       prom(agg("sum", "cortex_ingester_memory_series", MIMIR, by="pod"), "{{pod}}")),
            timeseries("Samples ingested by pod", "Samples per second each ingester appended.",
                       prom(rate("cortex_ingester_ingested_samples_total", MIMIR, by="pod"), "{{pod}}")),
            *resources("mimir", "mimir-.*"),
        ],
        [namespace_var(stack.namespace, "cortex_build_info")],
        ["stack-mimir-reads", "stack-mimir-compactor", "stack-prometheus-remote-write"], tags=TAGS)


def mimir_reads(stack: StackConfig) -> Board:
    queue = (f'{agg("sum", "cortex_query_frontend_queue_length", MIMIR, by="pod")} or '
             f'{agg("sum", "cortex_query_scheduler_queue_length", MIMIR, by="pod")}')
    return Board(
        "stack-mimir-reads", "Stack / Mimir / Reads", STACK,
        "Mimir's read path, as Grafana's Mimir datasource uses it: query-frontend, queue, queriers, "
        "store-gateways.",
        [
            Row("Query-frontend"),
            *red("Queries", "PromQL API requests", "cortex_request_duration_seconds", MIMIR, MIMIR_READ_ROUTES),
            timeseries("Queue length", "Queries waiting for a querier (in the query-scheduler when one runs, "
                       "else in the query-frontend; \"none\": nothing queued yet).",
                       prom(or_none(queue, "pod"), "{{pod}}"), width=24),
            Row("Querier"),
            *red("Querier", "Queries executed", "cortex_querier_request_duration_seconds", MIMIR, MIMIR_READ_ROUTES),
            Row("Store-gateway"),
            *red("Store-gateway", "Block reads from the queriers", "cortex_request_duration_seconds", MIMIR,
                 'route=~"/gatewaypb.StoreGateway/.*"'),
            *resources("mimir", "mimir-.*"),
        ],
        [namespace_var(stack.namespace, "cortex_build_info")],
        ["stack-mimir-writes", "stack-mimir-compactor", "stack-grafana"], tags=TAGS)


def mimir_compactor(stack: StackConfig) -> Board:
    objstore = (MIMIR,)
    return Board(
        "stack-mimir-compactor", "Stack / Mimir / Compactor and object store", STACK,
        f"Compaction of Mimir's blocks in S3 (retention {stack.mimir.retention}), the bucket index, and every "
        "component's object-store operations.",
        [
            since("Since last successful compaction", "Time since the compactor last completed a run over every "
                  "tenant; hours mean blocks pile up and queries slow down.",
                  "cortex_compactor_last_successful_run_timestamp_seconds", MIMIR, width=8),
            since("Bucket index age", "Time since the bucket index (what queriers and store-gateways read) was "
                  "last updated.", "cortex_bucket_index_last_successful_update_timestamp_seconds", MIMIR, width=8),
            stat("Blocks", "Blocks in the bucket, all tenants.",
                 prom(f"sum(max by (user) (cortex_bucket_blocks_count{sel(MIMIR)}))"), width=8),
            Row("Compactor"),
            timeseries("Compactor runs", "Runs started, completed and failed per second.",
                       *(prom(or_none(rate(f"cortex_compactor_runs_{kind}_total", MIMIR)), kind)
                         for kind in ("started", "completed", "failed"))),
            timeseries("Blocks by tenant", "Blocks per tenant in the bucket index.",
                       prom(agg("max", "cortex_bucket_blocks_count", MIMIR, by="user"), "{{user}}")),
            timeseries("Blocks marked for deletion", "Blocks marked for deletion per second, by reason "
                       "(compaction, retention).",
                       prom(or_none(rate("cortex_compactor_blocks_marked_for_deletion_total", MIMIR, by="reason"),
                                    "reason"), "{{reason}}")),
            timeseries("Blocks deleted", "Blocks the compactor deleted from the bucket per second.",
                       prom(rate("cortex_compactor_blocks_cleaned_total", MIMIR), "deleted")),
            Row("Object store"),
            timeseries("Operations", "Object-store operations per second, by component and operation.",
                       prom(rate("thanos_objstore_bucket_operations_total", *objstore, by="component, operation"),
                            "{{component}} {{operation}}")),
            timeseries("Operation failures", "Share of object-store operations that failed, by component.",
                       prom(f'{rate("thanos_objstore_bucket_operation_failures_total", *objstore, by="component")}'
                            f' / {rate("thanos_objstore_bucket_operations_total", *objstore, by="component")}',
                            "{{component}}"), unit="percentunit"),
            timeseries("Operation latency", "99th percentile duration of object-store operations, by operation.",
                       prom(quantile(0.99, "thanos_objstore_bucket_operation_duration_seconds", *objstore,
                                     by="operation"), "{{operation}}"), unit="s", width=24),
        ],
        [namespace_var(stack.namespace, "cortex_build_info")],
        ["stack-mimir-writes", "stack-mimir-reads"], tags=TAGS)


def grafana(stack: StackConfig) -> Board:
    grafana_job = 'job="grafana"'
    requests = "grafana_http_request_duration_seconds"
    datasource = "grafana_datasource_request_total"
    return Board(
        "stack-grafana", "Stack / Grafana", STACK,
        "Grafana's own HTTP traffic and the queries it sends to each datasource.",
        [
            stat("Dashboards", "Dashboards Grafana holds (the provisioned ones included).",
                 prom(agg("max", "grafana_stat_totals_dashboard", grafana_job)), width=12),
            stat("Active users", "Users active in the last 30 days.",
                 prom(agg("max", "grafana_stat_active_users", grafana_job)), width=12),
            timeseries("Requests by status code", "HTTP requests Grafana served per second, by status code.",
                       prom(rate(f"{requests}_count", grafana_job, by="status_code"), "{{status_code}}"), unit="reqps"),
            latency("Request latency", "99th and 50th percentile duration of HTTP requests, by handler.",
                    requests, grafana_job, by="handler", width=12),
            timeseries("Datasource requests", "Requests to each datasource per second, by response code.",
                       prom(rate(datasource, grafana_job, by="datasource, code"), "{{datasource}} {{code}}"),
                       unit="reqps"),
            timeseries("Datasource errors", "Share of requests to each datasource that failed (5xx).",
                       prom(error_ratio(datasource, grafana_job, by="datasource", errors=HTTP_5XX),
                            "{{datasource}}"),
                       unit="percentunit"),
            latency("Datasource latency", "99th and 50th percentile duration of datasource requests.",
                    "grafana_datasource_request_duration_seconds", grafana_job, by="datasource", width=24),
            *resources("grafana", "grafana-.*"),
        ],
        [namespace_var(stack.namespace, "grafana_build_info")],
        ["stack-prometheus", "stack-mimir-reads", "stack-loki-reads", "stack-tempo-reads"], tags=TAGS)


def boards(stack: StackConfig) -> list[Board]:
    return [prometheus_overview(stack), remote_write(stack), alertmanager(stack), prometheus_operator(stack),
            mimir_writes(stack), mimir_reads(stack), mimir_compactor(stack), grafana(stack)]
