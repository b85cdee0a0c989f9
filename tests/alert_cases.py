"""promtool unit-test cases, one per alert: input series that make it fire (with the labels expected on
the alert, severity aside) and series that keep it quiet. Written from what each alert should detect,
with the seed's default thresholds (error rate 5%, p95 2s, CPU 80%, memory 90%, for 5m)."""

APP = 'namespace="openemr"'
HTTP = 'http_server_request_duration_seconds_count{k8s_namespace_name="openemr",k8s_deployment_name="openemr",http_response_status_code="%s"}'
BUCKET = 'http_server_request_duration_seconds_bucket{k8s_namespace_name="openemr",k8s_deployment_name="openemr",le="%s"}'
OPENEMR = {"k8s_namespace_name": "openemr", "k8s_deployment_name": "openemr"}
POD = {"namespace": "openemr", "pod": "openemr-1", "container": "openemr"}
POD_SEL = 'namespace="openemr",pod="openemr-1",container="openemr"'
SHOP = 'namespace="shop"'


def case(fire, quiet, at, labels, interval="1m", quiet_at=None, alerts=None):
    """fire/quiet: {series: values}; at: eval time; labels: of the one expected alert (or `alerts`)."""
    return {"fire": fire, "quiet": quiet, "at": at, "quiet_at": quiet_at or at,
            "alerts": alerts if alerts is not None else [labels], "interval": interval}


def rising(per_step, steps=40):
    return f"0+{per_step}x{steps}"


def ratio_case(metric, labels_sel, labels):
    """5xx ratio alerts over request-duration counters: 10% fire, 1% stay quiet."""
    bad, good = f'{metric}{{{labels_sel},status_code="500",route="r"}}', f'{metric}{{{labels_sel},status_code="200",route="r"}}'
    return case({bad: rising(10), good: rising(90)}, {bad: rising(1), good: rising(99)}, "25m", labels)


def counter_case(metric, selector, labels, at="25m"):
    series = f"{metric}{{{selector}}}"
    return case({series: rising(10)}, {series: "5x40"}, at, labels)


def stale_timestamp_case(metric, selector, labels):
    """A last-success timestamp that stops moving for more than a day."""
    series = f"{metric}{{{selector}}}"
    return case({series: "0x1600"}, {series: "0+60x1600"}, "26h", labels)


MON = 'namespace="monitoring"'


def error_burn(share):
    """100 requests a minute for almost seven hours, `share` of them answered with a 500."""
    return {HTTP % "500": rising(share * 100, 400), HTTP % "200": rising((1 - share) * 100, 400)}


def slow_burn(share):
    """100 requests a minute, `share` of them slower than 1s (outside the le="1" bucket)."""
    return {BUCKET % "1": rising((1 - share) * 100, 400), HTTP % "200": rising(100, 400)}


# The default SLOs: 99.5% without a 5xx and 95% within 1s, over 28 days. The quiet case of each page
# is the firing case of its ticket: a slow burn only opens a ticket, it never pages.
SLO_CASES = {
    # 10% errors burn 20x: the 1h/5m pair (13.4x) pages within minutes. 1.5% (3x) stays under both pairs.
    "OpenEMRErrorsBudgetBurnFast": case(error_burn(0.10), error_burn(0.015), "12m", OPENEMR),
    # 1.5% errors: over the 1d/2h pair (2.8x), so a ticket; 0.2% (0.4x) spends less than the window allows.
    "OpenEMRErrorsBudgetBurnSlow": case(error_burn(0.015), error_burn(0.002), "6h20m", OPENEMR),
    "OpenEMRLatencyBudgetBurnFast": case(slow_burn(0.80), slow_burn(0.15), "12m", OPENEMR),
    "OpenEMRLatencyBudgetBurnSlow": case(slow_burn(0.15), slow_burn(0.03), "6h20m", OPENEMR),
}
AGENTS = 'namespace="monitoring-agents"'
CASES = {
    **SLO_CASES,
    "OpenEMRHighErrorRate": case({HTTP % "500": rising(10), HTTP % "200": rising(90)},
                                 {HTTP % "500": rising(1), HTTP % "200": rising(99)}, "15m", OPENEMR),
    "OpenEMRHighLatency": case({BUCKET % "1": rising(10), BUCKET % "5": rising(100), BUCKET % "+Inf": rising(100)},
                               {BUCKET % "1": rising(100), BUCKET % "5": rising(100), BUCKET % "+Inf": rising(100)},
                               "15m", OPENEMR),
    "OpenEMRNoTraffic": case({'up{job="other"}': "1x40"}, {HTTP % "200": rising(5)}, "20m", {}),
    "OpenEMRDown": case({f'kube_deployment_status_replicas_available{{{APP},deployment="openemr"}}': "0x10"},
                        {f'kube_deployment_status_replicas_available{{{APP},deployment="openemr"}}': "1x10"},
                        "5m", {"namespace": "openemr", "deployment": "openemr"}),
    "OpenEMRReplicasUnavailable": case(
        {f'kube_deployment_status_replicas_available{{{APP},deployment="openemr"}}': "1x20",
         f'kube_deployment_spec_replicas{{{APP},deployment="openemr"}}': "2x20"},
        {f'kube_deployment_status_replicas_available{{{APP},deployment="openemr"}}': "2x20",
         f'kube_deployment_spec_replicas{{{APP},deployment="openemr"}}': "2x20"},
        "15m", {"namespace": "openemr", "deployment": "openemr"}),
    "OpenEMRPodNotReady": case(
        {f'kube_pod_status_ready{{{APP},pod="openemr-1",condition="false"}}': "1x20",
         f'kube_pod_info{{{APP},pod="openemr-1",node="n1"}}': "1x20"},
        {f'kube_pod_status_ready{{{APP},pod="openemr-1",condition="false"}}': "0x20",
         f'kube_pod_info{{{APP},pod="openemr-1",node="n1"}}': "1x20"},
        "15m", {"namespace": "openemr", "pod": "openemr-1", "node": "n1"}),
    "OpenEMRPodRestarting": case({f"kube_pod_container_status_restarts_total{{{POD_SEL}}}": rising(1)},
                                 {f"kube_pod_container_status_restarts_total{{{POD_SEL}}}": "3x40"}, "16m", POD),
    "OpenEMRContainerOOMKilled": case(
        {f'kube_pod_container_status_last_terminated_reason{{{POD_SEL},reason="OOMKilled"}}': "1x20",
         f"kube_pod_container_status_restarts_total{{{POD_SEL}}}": "0x10 1x10"},
        {f'kube_pod_container_status_last_terminated_reason{{{POD_SEL},reason="OOMKilled"}}': "1x20",
         f"kube_pod_container_status_restarts_total{{{POD_SEL}}}": "1x20"},
        "15m", {**POD, "reason": "OOMKilled"}),
    "OpenEMRCPUThrottled": case(
        {f"container_cpu_cfs_throttled_periods_total{{{POD_SEL}}}": rising(30),
         f"container_cpu_cfs_periods_total{{{POD_SEL}}}": rising(100)},
        {f"container_cpu_cfs_throttled_periods_total{{{POD_SEL}}}": rising(10),
         f"container_cpu_cfs_periods_total{{{POD_SEL}}}": rising(100)}, "25m", POD),
    "OpenEMRCPUNearLimit": case(
        {f"container_cpu_usage_seconds_total{{{POD_SEL}}}": rising(54),
         f'kube_pod_container_resource_limits{{{POD_SEL},resource="cpu"}}': "1x40"},
        {f"container_cpu_usage_seconds_total{{{POD_SEL}}}": rising(30),
         f'kube_pod_container_resource_limits{{{POD_SEL},resource="cpu"}}': "1x40"}, "15m", POD),
    "OpenEMRMemoryNearLimit": case(
        {f"container_memory_working_set_bytes{{{POD_SEL}}}": "950x20",
         f'kube_pod_container_resource_limits{{{POD_SEL},resource="memory"}}': "1000x20"},
        {f"container_memory_working_set_bytes{{{POD_SEL}}}": "500x20",
         f'kube_pod_container_resource_limits{{{POD_SEL},resource="memory"}}': "1000x20"}, "15m", POD),
    "KubeNodeNotReady": case({'kube_node_status_condition{node="n1",condition="Ready",status="true"}': "0x10"},
                             {'kube_node_status_condition{node="n1",condition="Ready",status="true"}': "1x10"},
                             "8m", {"node": "n1", "condition": "Ready", "status": "true"}),
    "KubePodNotReady": case(
        {f'kube_pod_status_phase{{{SHOP},pod="p1",phase="Pending"}}': "1x30", f'kube_pod_info{{{SHOP},pod="p1",node="n1"}}': "1x30"},
        {f'kube_pod_status_phase{{{SHOP},pod="p1",phase="Pending"}}': "0x30", f'kube_pod_info{{{SHOP},pod="p1",node="n1"}}': "1x30"},
        "20m", {"namespace": "shop", "pod": "p1", "node": "n1"}),
    "KubePodCrashLooping": case({f'kube_pod_container_status_restarts_total{{{SHOP},pod="p1",container="c"}}': rising(1)},
                                {f'kube_pod_container_status_restarts_total{{{SHOP},pod="p1",container="c"}}': "4x40"},
                                "16m", {"namespace": "shop", "pod": "p1", "container": "c"}),
    "KubeDeploymentReplicasMismatch": case(
        {f'kube_deployment_spec_replicas{{{SHOP},deployment="d"}}': "3x30",
         f'kube_deployment_status_replicas_available{{{SHOP},deployment="d"}}': "1x30"},
        {f'kube_deployment_spec_replicas{{{SHOP},deployment="d"}}': "3x30",
         f'kube_deployment_status_replicas_available{{{SHOP},deployment="d"}}': "3x30"},
        "20m", {"namespace": "shop", "deployment": "d"}),
    "KubeStatefulSetReplicasMismatch": case(
        {f'kube_statefulset_replicas{{{SHOP},statefulset="s"}}': "3x30",
         f'kube_statefulset_status_replicas_ready{{{SHOP},statefulset="s"}}': "2x30"},
        {f'kube_statefulset_replicas{{{SHOP},statefulset="s"}}': "3x30",
         f'kube_statefulset_status_replicas_ready{{{SHOP},statefulset="s"}}': "3x30"},
        "20m", {"namespace": "shop", "statefulset": "s"}),
    "KubeDaemonSetNotScheduled": case(
        {f'kube_daemonset_status_desired_number_scheduled{{{SHOP},daemonset="a"}}': "2x30",
         f'kube_daemonset_status_number_ready{{{SHOP},daemonset="a"}}': "1x30"},
        {f'kube_daemonset_status_desired_number_scheduled{{{SHOP},daemonset="a"}}': "2x30",
         f'kube_daemonset_status_number_ready{{{SHOP},daemonset="a"}}': "2x30"},
        "20m", {"namespace": "shop", "daemonset": "a"}),
    "KubeJobFailed": case({f'kube_job_status_failed{{{SHOP},job_name="j"}}': "1x30"},
                          {f'kube_job_status_failed{{{SHOP},job_name="j"}}': "0x30"}, "20m",
                          {"namespace": "shop", "job_name": "j"}),
    "KubeHpaMaxedOut": case(
        {f'kube_horizontalpodautoscaler_status_current_replicas{{{SHOP},horizontalpodautoscaler="h"}}': "3x40",
         f'kube_horizontalpodautoscaler_spec_max_replicas{{{SHOP},horizontalpodautoscaler="h"}}': "3x40"},
        {f'kube_horizontalpodautoscaler_status_current_replicas{{{SHOP},horizontalpodautoscaler="h"}}': "2x40",
         f'kube_horizontalpodautoscaler_spec_max_replicas{{{SHOP},horizontalpodautoscaler="h"}}': "3x40"},
        "35m", {"namespace": "shop", "horizontalpodautoscaler": "h"}),
    "KubePersistentVolumeFillingUp": case(
        {f'kubelet_volume_stats_available_bytes{{{SHOP},persistentvolumeclaim="c"}}': "10x10",
         f'kubelet_volume_stats_capacity_bytes{{{SHOP},persistentvolumeclaim="c"}}': "100x10"},
        {f'kubelet_volume_stats_available_bytes{{{SHOP},persistentvolumeclaim="c"}}': "50x10",
         f'kubelet_volume_stats_capacity_bytes{{{SHOP},persistentvolumeclaim="c"}}': "100x10"},
        "8m", {"namespace": "shop", "persistentvolumeclaim": "c"}),
    "KubePersistentVolumeFull": case(
        {f'kubelet_volume_stats_available_bytes{{{SHOP},persistentvolumeclaim="c"}}': "2x10",
         f'kubelet_volume_stats_capacity_bytes{{{SHOP},persistentvolumeclaim="c"}}': "100x10"},
        {f'kubelet_volume_stats_available_bytes{{{SHOP},persistentvolumeclaim="c"}}': "10x10",
         f'kubelet_volume_stats_capacity_bytes{{{SHOP},persistentvolumeclaim="c"}}': "100x10"},
        "5m", {"namespace": "shop", "persistentvolumeclaim": "c"}),
    "NodeFilesystemFillingUp": case(
        {'node_filesystem_avail_bytes{instance="n1",mountpoint="/",fstype="ext4",device="d"}': "10x30",
         'node_filesystem_size_bytes{instance="n1",mountpoint="/",fstype="ext4",device="d"}': "100x30",
         'node_filesystem_readonly{instance="n1",mountpoint="/",fstype="ext4",device="d"}': "0x30"},
        {'node_filesystem_avail_bytes{instance="n1",mountpoint="/",fstype="ext4",device="d"}': "50x30",
         'node_filesystem_size_bytes{instance="n1",mountpoint="/",fstype="ext4",device="d"}': "100x30",
         'node_filesystem_readonly{instance="n1",mountpoint="/",fstype="ext4",device="d"}': "0x30"},
        "20m", {"instance": "n1", "mountpoint": "/", "fstype": "ext4", "device": "d"}),
    "NodeMemoryHigh": case({'node_memory_MemAvailable_bytes{instance="n1"}': "5x30", 'node_memory_MemTotal_bytes{instance="n1"}': "100x30"},
                           {'node_memory_MemAvailable_bytes{instance="n1"}': "50x30", 'node_memory_MemTotal_bytes{instance="n1"}': "100x30"},
                           "20m", {"instance": "n1"}),
    "NodeClockSkew": case({'node_timex_offset_seconds{instance="n1"}': "0.1x20"},
                          {'node_timex_offset_seconds{instance="n1"}': "0.001x20"}, "15m", {"instance": "n1"}),
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
    "TempoRetentionFailing": case({'tempodb_retention_errors_total{instance="t"}': "0x10 1x30"},
                                  {'tempodb_retention_errors_total{instance="t"}': "0x40"}, "25m", {"instance": "t"}),
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
}
