"""promtool cases for the prometheus, prometheus-operator, alertmanager, logs-traces-metrics and stack
groups. Backend job names differ by topology (loki or loki-write, ...): down cases hold both."""
from alert_cases_base import AGENTS, MON, case, counter_case, gauge, ratio_case, rising, stale_timestamp_case

P = 'instance="p"'
PROM = {"instance": "p"}
AM = f'{MON},service="alertmanager"'
AM_LABELS = {"namespace": "monitoring", "service": "alertmanager"}
NODE = {"instance": "n1", "node": "n1"}
N = 'instance="n1",node="n1"'



def ratio(bad, total, fire, quiet_bad, total_values, at, labels):
    return case({bad: fire, total: total_values}, {bad: quiet_bad, total: total_values}, at, labels)


def operator_ratio(failed, total, share):
    sel = f'{MON},controller="prometheus"'
    return ratio(f"prometheus_operator_{failed}_total{{{sel}}}", f"prometheus_operator_{total}_total{{{sel}}}",
                 rising(share), "0x40", rising(100), "20m", {"namespace": "monitoring", "controller": "prometheus"})


def down(*jobs):
    def up(value):
        return {f'up{{{MON},job="{job}",instance="{job}-0"}}': value for job in jobs}
    return case(up("0x20"), up("1x20"), "10m", {})


def latency(prefix, job, route, slow_bucket):
    """Every request between 1s and slow_bucket: the 99th percentile sits near slow_bucket."""
    sel = f'{MON},job="{job}",route="{route}"'
    def buckets(fast):
        return {f'{prefix}_request_duration_seconds_bucket{{{sel},le="{le}"}}': rising(n)
                for le, n in (("1", 10 if fast else 0), (slow_bucket, 10), ("+Inf", 10))}
    return case(buckets(False), buckets(True), "25m", {"namespace": "monitoring", "job": job, "route": route})


def gossip(metric):
    series = {i: f'{metric}{{{MON},instance="{i}"}}' for i in "ab"}
    return case({series["a"]: "3x30", series["b"]: "2x30"}, {series["a"]: "3x30", series["b"]: "3x30"}, "20m",
                {"namespace": "monitoring"})


def jumps(metric, selector, labels, at):
    """A counter that increased once, at 10 minutes."""
    return gauge(f"{metric}{{{selector}}}", "0x10 1x30", "0x40", at, labels)


MON_JOB = {"namespace": "monitoring", "job": "j"}
STACK_CASES = {
    "Watchdog": case({'up{job="x"}': "1x5"}, None, "2m", {}),
    "TargetDown": case({f'up{{{MON},job="grafana",instance="a"}}': "0x20", f'up{{{MON},job="grafana",instance="b"}}': "1x20"},
                       {f'up{{{MON},job="grafana",instance="a"}}': "1x20", f'up{{{MON},job="grafana",instance="b"}}': "1x20"},
                       "15m", {"namespace": "monitoring", "job": "grafana"}),
    "PrometheusRuleFailures": counter_case("prometheus_rule_evaluation_failures_total", 'instance="p"', {"instance": "p"}),
    "PrometheusConfigReloadFailed": case({'prometheus_config_last_reload_successful{instance="p"}': "0x20"},
                                         {'prometheus_config_last_reload_successful{instance="p"}': "1x20"}, "15m",
                                         {"instance": "p"}),
    "PrometheusNotificationsFailing": case(
        {'prometheus_notifications_errors_total{instance="p",alertmanager="a"}': rising(5),
         'prometheus_notifications_sent_total{instance="p",alertmanager="a"}': rising(100)},
        {'prometheus_notifications_errors_total{instance="p",alertmanager="a"}': "5x40",
         'prometheus_notifications_sent_total{instance="p",alertmanager="a"}': rising(100)},
        "25m", {"instance": "p", "alertmanager": "a"}),
    "PrometheusRemoteWriteFailing": case(
        {'prometheus_remote_storage_samples_failed_total{instance="p",remote_name="mimir",url="u"}': rising(10),
         'prometheus_remote_storage_samples_total{instance="p",remote_name="mimir",url="u"}': rising(100)},
        {'prometheus_remote_storage_samples_failed_total{instance="p",remote_name="mimir",url="u"}': "0x40",
         'prometheus_remote_storage_samples_total{instance="p",remote_name="mimir",url="u"}': rising(100)},
        "25m", {"instance": "p", "remote_name": "mimir", "url": "u"}),
    "PrometheusRemoteWriteBehind": case(
        {'prometheus_remote_storage_highest_timestamp_in_seconds{instance="p"}': "1000+60x40",
         'prometheus_remote_storage_queue_highest_sent_timestamp_seconds{instance="p",remote_name="mimir",url="u"}': "500+60x40"},
        {'prometheus_remote_storage_highest_timestamp_in_seconds{instance="p"}': "1000+60x40",
         'prometheus_remote_storage_queue_highest_sent_timestamp_seconds{instance="p",remote_name="mimir",url="u"}': "1000+60x40"},
        "25m", {"instance": "p", "remote_name": "mimir", "url": "u"}),
    "PrometheusTSDBCompactionsFailing": case({'prometheus_tsdb_compactions_failed_total{instance="p"}': "0x10 1x30"},
                                             {'prometheus_tsdb_compactions_failed_total{instance="p"}': "0x40"}, "30m",
                                             {"instance": "p"}),
    "AlertmanagerFailedNotifications": case(
        {f'alertmanager_notifications_failed_total{{{MON},integration="slack",instance="a"}}': rising(5),
         f'alertmanager_notifications_total{{{MON},integration="slack",instance="a"}}': rising(100)},
        {f'alertmanager_notifications_failed_total{{{MON},integration="slack",instance="a"}}': "5x40",
         f'alertmanager_notifications_total{{{MON},integration="slack",instance="a"}}': rising(100)},
        "15m", {"namespace": "monitoring", "integration": "slack"}),
    "AlertmanagerConfigReloadFailed": case({'alertmanager_config_last_reload_successful{instance="a"}': "0x20"},
                                           {'alertmanager_config_last_reload_successful{instance="a"}': "1x20"}, "15m",
                                           {"instance": "a"}),
    "AlertmanagerClusterMembersMissing": case(
        {f'alertmanager_cluster_members{{{MON},service="alertmanager",instance="a"}}': "1x30",
         f'alertmanager_cluster_members{{{MON},service="alertmanager",instance="b"}}': "1x30"},
        {f'alertmanager_cluster_members{{{MON},service="alertmanager",instance="a"}}': "2x30",
         f'alertmanager_cluster_members{{{MON},service="alertmanager",instance="b"}}': "2x30"},
        "20m", None, alerts=[{"namespace": "monitoring", "service": "alertmanager", "instance": i} for i in "ab"]),
    "LokiRequestErrors": ratio_case("loki_request_duration_seconds_count", f'{MON},job="monitoring/loki"',
                                    {"namespace": "monitoring", "job": "monitoring/loki"}),
    "LokiIngestionRefused": counter_case("loki_discarded_samples_total", f'{MON},reason="rate_limited"',
                                         {"namespace": "monitoring", "reason": "rate_limited"}),
    "LokiRetentionNotRunning": stale_timestamp_case(
        "loki_compactor_apply_retention_last_successful_run_timestamp_seconds", MON, {"namespace": "monitoring"}),
    "TempoRequestErrors": ratio_case("tempo_request_duration_seconds_count", f'{MON},job="monitoring/tempo"',
                                     {"namespace": "monitoring", "job": "monitoring/tempo"}),
    "TempoDiscardingSpans": counter_case("tempo_discarded_spans_total", f'{MON},reason="trace_too_large"',
                                         {"namespace": "monitoring", "reason": "trace_too_large"}),
    "TempoRetentionFailing": case({f'tempodb_retention_errors_total{{{MON},job="j"}}': "0x10 1x30"},
                                  {f'tempodb_retention_errors_total{{{MON},job="j"}}': "0x40"}, "25m", MON_JOB),
    "MimirRequestErrors": ratio_case("cortex_request_duration_seconds_count", f'{MON},job="monitoring/mimir"',
                                     {"namespace": "monitoring", "job": "monitoring/mimir"}),
    "MimirIngestionRejected": counter_case("cortex_discarded_samples_total", f'{MON},reason="sample_too_old"',
                                           {"namespace": "monitoring", "reason": "sample_too_old"}),
    "MimirCompactorNotRunning": stale_timestamp_case("cortex_compactor_last_successful_run_timestamp_seconds", MON,
                                                     {"namespace": "monitoring"}),
    "RingMembersUnhealthy": case({f'cortex_ring_members{{{MON},job="j",name="ingester",state="Unhealthy"}}': "1x30"},
                                 {f'cortex_ring_members{{{MON},job="j",name="ingester",state="Unhealthy"}}': "0x30"},
                                 "20m", {"namespace": "monitoring", "job": "j", "name": "ingester"}),
    "FluentBitRetriesFailing": case({'fluentbit_output_retries_failed_total{instance="n1",name="loki.0"}': "0x5 1x20"},
                                    {'fluentbit_output_retries_failed_total{instance="n1",name="loki.0"}': "0x25"},
                                    "12m", {"instance": "n1", "name": "loki.0"}),
    "FluentBitDroppingRecords": case({'fluentbit_output_dropped_records_total{instance="n1",name="loki.0"}': "0x5 3x20"},
                                     {'fluentbit_output_dropped_records_total{instance="n1",name="loki.0"}': "0x25"},
                                     "8m", {"instance": "n1", "name": "loki.0"}),
    "CollectorNotRunning": case(
        {f'kube_daemonset_status_desired_number_scheduled{{{AGENTS},daemonset="fluent-bit"}}': "2x20",
         f'kube_daemonset_status_number_ready{{{AGENTS},daemonset="fluent-bit"}}': "1x20"},
        {f'kube_daemonset_status_desired_number_scheduled{{{AGENTS},daemonset="fluent-bit"}}': "2x20",
         f'kube_daemonset_status_number_ready{{{AGENTS},daemonset="fluent-bit"}}': "2x20"},
        "15m", {"namespace": "monitoring-agents", "daemonset": "fluent-bit"}),
    "GrafanaDown": case({f'up{{{MON},job="grafana"}}': "0x20"}, {f'up{{{MON},job="grafana"}}': "1x20"}, "10m",
                        {"namespace": "monitoring", "job": "grafana"}),
    "PrometheusRuleEvaluationSlow": ratio(f'prometheus_rule_group_last_duration_seconds{{{P},rule_group="g"}}',
                                          f'prometheus_rule_group_interval_seconds{{{P},rule_group="g"}}', "40x20", "5x20",
                                          "30x20", "20m", {**PROM, "rule_group": "g"}),
    "PrometheusMissingRuleEvaluations": counter_case("prometheus_rule_group_iterations_missed_total", f'{P},rule_group="g"',
                                                     {**PROM, "rule_group": "g"}),
    # 10 more queued alerts a minute: in 30 minutes over the capacity of 300.
    "PrometheusNotificationQueueRunningFull": ratio(f"prometheus_notifications_queue_length{{{P}}}",
                                                    f"prometheus_notifications_queue_capacity{{{P}}}", rising(10), "0x40",
                                                    "300x40", "20m", PROM),
    "PrometheusNotificationsDropped": counter_case("prometheus_notifications_dropped_total", P, PROM),
    "PrometheusNotConnectedToAlertmanagers": gauge(f"prometheus_notifications_alertmanagers_discovered{{{P}}}", "0x20",
                                                   "2x20", "15m", PROM),
    "PrometheusNotIngestingSamples": gauge(f'prometheus_tsdb_head_samples_appended_total{{{P},type="float"}}', "100x30",
                                           rising(100, 30), "20m", PROM),
    "PrometheusTSDBReloadsFailing": jumps("prometheus_tsdb_reloads_failures_total", P, PROM, "30m"),
    "PrometheusTSDBWALCorruptions": jumps("prometheus_tsdb_wal_corruptions_total", P, PROM, "15m"),
    "PrometheusTargetLimitHit": counter_case("prometheus_target_scrape_pool_exceeded_target_limit_total", P, PROM),
    "PrometheusLabelLimitHit": counter_case("prometheus_target_scrape_pool_exceeded_label_limits_total", P, PROM),
    "PrometheusSampleLimitHit": counter_case("prometheus_target_scrapes_exceeded_sample_limit_total", P, PROM),
    "PrometheusOutOfOrderSamples": counter_case("prometheus_target_scrapes_sample_out_of_order_total", P, PROM),
    "PrometheusDuplicateTimestamps": counter_case("prometheus_target_scrapes_sample_duplicate_timestamp_total", P, PROM),
    "PrometheusSDRefreshFailure": counter_case("prometheus_sd_refresh_failures_total", f'{P},mechanism="kubernetes"',
                                               {**PROM, "mechanism": "kubernetes"}),
    "PrometheusRemoteWriteDesiredShards": ratio(
        f'prometheus_remote_storage_shards_desired{{{P},remote_name="mimir",url="u"}}',
        f'prometheus_remote_storage_shards_max{{{P},remote_name="mimir",url="u"}}', "60x30", "10x30", "50x30", "20m",
        {**PROM, "remote_name": "mimir", "url": "u"}),
    "PrometheusOperatorReconcileErrors": operator_ratio("reconcile_errors", "reconcile_operations", 20),
    "PrometheusOperatorListErrors": operator_ratio("list_operations_failed", "list_operations", 50),
    "PrometheusOperatorWatchErrors": operator_ratio("watch_operations_failed", "watch_operations", 50),
    "PrometheusOperatorStatusUpdateErrors": operator_ratio("status_update_errors", "status_update_operations", 20),
    "PrometheusOperatorNotReady": gauge(f'prometheus_operator_ready{{{MON},controller="prometheus"}}', "0x20", "1x20", "10m",
                                        {"namespace": "monitoring", "controller": "prometheus"}),
    "PrometheusOperatorSyncFailed": gauge(f'prometheus_operator_syncs{{{MON},controller="alertmanager",status="failed"}}',
                                          "1x20", "0x20", "15m",
                                          {"namespace": "monitoring", "controller": "alertmanager", "status": "failed"}),
    "PrometheusOperatorNodeLookupErrors": gauge(f'prometheus_operator_node_address_lookup_errors_total{{{MON},instance="o"}}',
                                                rising(12), "3x40", "20m", {"namespace": "monitoring", "instance": "o"}),
    "ConfigReloaderSidecarErrors": gauge(f'reloader_last_reload_successful{{{MON},pod="prometheus-main-0",instance="r"}}',
                                         "0x20", "1x20", "15m",
                                         {"namespace": "monitoring", "pod": "prometheus-main-0", "instance": "r"}),
    "AlertmanagerConfigInconsistent": case(
        {f'alertmanager_config_hash{{{AM},instance="a"}}': "1x30", f'alertmanager_config_hash{{{AM},instance="b"}}': "2x30"},
        {f'alertmanager_config_hash{{{AM},instance="a"}}': "1x30", f'alertmanager_config_hash{{{AM},instance="b"}}': "1x30"},
        "25m", AM_LABELS),
    "AlertmanagerClusterDown": case(
        {f'up{{{AM},job="alertmanager",instance="a"}}': "0x20", f'up{{{AM},job="alertmanager",instance="b"}}': "1x20"},
        {f'up{{{AM},job="alertmanager",instance="a"}}': "1x20", f'up{{{AM},job="alertmanager",instance="b"}}': "1x20"},
        "15m", AM_LABELS),
    "AlertmanagerClusterCrashlooping": case(
        {f'process_start_time_seconds{{{AM},job="alertmanager",instance="a"}}': "1+1x20",
         f'up{{{AM},job="alertmanager",instance="a"}}': "1x20", f'up{{{AM},job="alertmanager",instance="b"}}': "1x20"},
        {f'process_start_time_seconds{{{AM},job="alertmanager",instance="a"}}': "1x20",
         f'up{{{AM},job="alertmanager",instance="a"}}': "1x20", f'up{{{AM},job="alertmanager",instance="b"}}': "1x20"},
        "15m", AM_LABELS),
    "LokiDown": down("loki", "loki-write"),
    "LokiRequestLatency": latency("loki", "loki-read", "loki_api_v1_query_range", "5"),
    "LokiRequestPanics": counter_case("loki_panic_total", f'{MON},job="j"', MON_JOB),
    "LokiIngesterFlushFailing": counter_case("loki_ingester_chunks_flush_failures_total", f'{MON},job="j"', MON_JOB),
    "LokiCompactorNotRunning": stale_timestamp_case(
        "loki_boltdb_shipper_compact_tables_operation_last_successful_run_timestamp_seconds", MON, {"namespace": "monitoring"}),
    "LokiObjectStoreErrors": ratio(f'loki_s3_request_duration_seconds_count{{{MON},operation="S3.PutObject",status_code="500"}}',
                                   f'loki_s3_request_duration_seconds_count{{{MON},operation="S3.PutObject",status_code="200"}}',
                                   rising(10), "0x40", rising(90), "25m", {"namespace": "monitoring", "operation": "S3.PutObject"}),
    "LokiGossipMembersMismatch": gossip("loki_memberlist_client_cluster_members_count"),
    "TempoDown": down("tempo", "tempo-distributor"),
    "TempoRequestLatency": latency("tempo", "tempo-query-frontend", "api_search", "10"),
    "TempoCompactionsFailing": jumps("tempodb_compaction_errors_total", f'{MON},job="j"', MON_JOB, "30m"),
    "TempoIngesterFlushesFailing": jumps("tempo_ingester_failed_flushes_total", f'{MON},job="j"', MON_JOB, "25m"),
    "TempoCompactionBacklog": gauge(f'tempodb_compaction_outstanding_blocks{{{MON},instance="c"}}', "150x80", "10x80", "70m",
                                    {"namespace": "monitoring"}),
    "TempoBackendErrors": ratio(f'tempodb_backend_request_duration_seconds_count{{{MON},operation="GET",status_code="500"}}',
                                f'tempodb_backend_request_duration_seconds_count{{{MON},operation="GET",status_code="200"}}',
                                rising(10), "0x40", rising(90), "25m", {"namespace": "monitoring", "operation": "GET"}),
    "TempoGossipMembersMismatch": gossip("tempo_memberlist_client_cluster_members_count"),
    "MimirDown": down("mimir", "mimir-distributor"),
    "MimirRequestLatency": latency("cortex", "mimir-querier", "prometheus_api_v1_query_range", "10"),
    "MimirIngesterInstanceRejecting": counter_case(
        "cortex_ingester_instance_rejected_requests_total", f'{MON},instance="i",reason="ingester_max_inflight_push_requests"',
        {"namespace": "monitoring", "instance": "i", "reason": "ingester_max_inflight_push_requests"}),
    "MimirDistributorInstanceRejecting": counter_case(
        "cortex_distributor_instance_rejected_requests_total", f'{MON},instance="d",reason="max_inflight_push_requests"',
        {"namespace": "monitoring", "instance": "d", "reason": "max_inflight_push_requests"}),
    "MimirIngesterTSDBCompactionFailed": jumps("cortex_ingester_tsdb_compactions_failed_total", f'{MON},job="j"', MON_JOB,
                                               "30m"),
    "MimirIngesterShipperFailing": jumps("cortex_ingester_shipper_upload_failures_total", f'{MON},job="j"', MON_JOB, "30m"),
    "MimirCompactorFailing": jumps("cortex_compactor_runs_failed_total", f'{MON},job="j"', MON_JOB, "30m"),
    "MimirBucketIndexNotUpdated": stale_timestamp_case("cortex_bucket_index_last_successful_update_timestamp_seconds",
                                                       f'{MON},user="anonymous"', {"namespace": "monitoring"}),
    "MimirObjectStoreErrors": ratio(
        f'thanos_objstore_bucket_operation_failures_total{{{MON},component="compactor",operation="upload"}}',
        f'thanos_objstore_bucket_operations_total{{{MON},component="compactor",operation="upload"}}', rising(10), "0x40",
        rising(100), "25m", {"namespace": "monitoring", "component": "compactor", "operation": "upload"}),
    "MimirGossipMembersMismatch": gossip("memberlist_client_cluster_members_count"),
    "FluentBitOutputErrors": gauge(f'fluentbit_output_errors_total{{{N},name="loki.0"}}', rising(5), "0x40", "25m",
                                   {**NODE, "name": "loki.0"}),
    "FluentBitNotReadingLogs": gauge(f'fluentbit_input_records_total{{{N},name="tail.0"}}', "100x50", rising(10, 50), "48m",
                                     NODE),
    "GrafanaRequestErrors": ratio(
        f'grafana_http_request_duration_seconds_count{{{MON},job="grafana",handler="/api/ds/query",method="POST",status_code="500"}}',
        f'grafana_http_request_duration_seconds_count{{{MON},job="grafana",handler="/api/ds/query",method="POST",status_code="200"}}',
        rising(10), "0x40", rising(90), "25m", {"namespace": "monitoring", "job": "grafana"}),
    "GrafanaDatasourceErrors": ratio(
        f'grafana_datasource_request_total{{{MON},datasource="loki",method="POST",code="500"}}',
        f'grafana_datasource_request_total{{{MON},datasource="loki",method="POST",code="200"}}',
        rising(20), "0x40", rising(80), "25m", {"namespace": "monitoring", "datasource": "loki"}),
    "KubernetesEventsNotShipped": gauge(f'up{{{MON},job="monitoring/fluent-bit-events",instance="e"}}', "0x20", "1x20",
                                        "15m", {}),
    "OTeBPFInstrumentationErrors": counter_case("obi_instrumentation_errors_total", N, NODE),
    "OTeBPFTraceExportErrors": ratio(f"obi_otel_trace_export_errors_total{{{N}}}", f"obi_otel_trace_exports_total{{{N}}}",
                                     rising(10), "0x40", rising(100), "25m", NODE),
}
