"""The alerting pipeline itself: Prometheus (v3.9), the Prometheus Operator and its config reloaders
(v0.93), Alertmanager (v0.31). If these fail, no other alert arrives, so they come first to a reviewer."""
from __future__ import annotations

from typing import TYPE_CHECKING

from stackgen.lib.alerts import Alert

if TYPE_CHECKING:
    from stackgen.config import StackConfig

PROM = "Prometheus {{ $labels.namespace }}/{{ $labels.pod }}"


def _counter_alert(name: str, metric: str, window: str, summary: str, description: str, for_: str,
                   severity: str = "warning") -> Alert:
    return Alert(name, f"increase({metric}[{window}]) > 0", severity, summary, description, for_)


def _prometheus() -> list:
    return [
        Alert("Watchdog", "vector(1)", "info", "The alerting pipeline works",
              "Always firing (value {{ $value }}). If it stops arriving at a dead man's switch, Prometheus or "
              "Alertmanager is down.", "0m"),
        Alert("TargetDown", "100 * (count by (namespace, job) (up == 0) / count by (namespace, job) (up)) > $threshold",
              "warning", "{{ $value | humanize }}% of {{ $labels.job }} targets are down",
              "Prometheus cannot scrape {{ $value | humanize }}% of the {{ $labels.namespace }}/{{ $labels.job }} targets "
              "(threshold $threshold%); their alerts cannot fire.", "10m", 10),
        _counter_alert("PrometheusRuleFailures", "prometheus_rule_evaluation_failures_total", "5m",
                       f"{PROM} fails to evaluate rules", f"{PROM} failed {{{{ $value | humanize }}}} evaluations of "
                       "group {{ $labels.rule_group }} in 5 minutes: some alerts cannot fire.", "15m", "critical"),
        Alert("PrometheusRuleEvaluationSlow",
              "prometheus_rule_group_last_duration_seconds > prometheus_rule_group_interval_seconds", "warning",
              f"{PROM} evaluates a rule group slower than its interval",
              "Group {{ $labels.rule_group }} took {{ $value | humanizeDuration }}, longer than its interval: "
              "evaluations are skipped.", "15m"),
        _counter_alert("PrometheusMissingRuleEvaluations", "prometheus_rule_group_iterations_missed_total", "5m",
                       f"{PROM} misses rule evaluations", f"{PROM} skipped {{{{ $value | humanize }}}} evaluations of "
                       "{{ $labels.rule_group }} in 5 minutes.", "15m"),
        Alert("PrometheusConfigReloadFailed", "max_over_time(prometheus_config_last_reload_successful[5m]) == 0",
              "warning", f"{PROM} configuration reload failed",
              f"{PROM} could not load its new configuration (last reload successful={{{{ $value }}}}) and runs the old "
              "one.", "10m"),
        Alert("PrometheusNotificationsFailing", "rate(prometheus_notifications_errors_total[5m]) / "
              "rate(prometheus_notifications_sent_total[5m]) > $threshold", "critical",
              "Prometheus cannot send alerts to Alertmanager {{ $labels.alertmanager }}",
              f"{PROM} fails {{{{ $value | humanizePercentage }}}} of the notifications to {{{{ $labels.alertmanager }}}} "
              "(threshold $threshold): alerts are not delivered.", "15m", 0.01, "ratio"),
        Alert("PrometheusNotificationQueueRunningFull", "predict_linear(prometheus_notifications_queue_length[5m], "
              "60 * 30) > min_over_time(prometheus_notifications_queue_capacity[5m])", "warning",
              f"{PROM}'s alert notification queue is filling up",
              f"At its current rate, the notification queue of {PROM} will hold {{{{ $value | humanize }}}} alerts "
              "within 30 minutes, more than its capacity: alerts will be dropped.", "15m"),
        _counter_alert("PrometheusNotificationsDropped", "prometheus_notifications_dropped_total", "5m",
                       f"{PROM} drops alert notifications",
                       f"{PROM} dropped {{{{ $value | humanize }}}} notifications in 5 minutes.", "15m"),
        Alert("PrometheusNotConnectedToAlertmanagers",
              "max_over_time(prometheus_notifications_alertmanagers_discovered[5m]) < 1", "warning",
              f"{PROM} knows no Alertmanager",
              f"{PROM} has discovered {{{{ $value }}}} Alertmanagers: alerts go nowhere.", "10m"),
        Alert("PrometheusNotIngestingSamples",
              "sum without (type) (rate(prometheus_tsdb_head_samples_appended_total[5m])) <= 0", "warning",
              f"{PROM} ingests no samples", f"{PROM} appended {{{{ $value }}}} samples per second for 10 minutes.",
              "10m"),
        _counter_alert("PrometheusTSDBCompactionsFailing", "prometheus_tsdb_compactions_failed_total", "3h",
                       f"{PROM} TSDB compactions fail", f"{{{{ $value | humanize }}}} compactions of {PROM} failed in 3 "
                       "hours: the local TSDB grows and queries slow down.", "15m"),
        _counter_alert("PrometheusTSDBReloadsFailing", "prometheus_tsdb_reloads_failures_total", "3h",
                       f"{PROM} fails to reload TSDB blocks", f"{{{{ $value | humanize }}}} block reloads of {PROM} "
                       "failed in 3 hours: the data directory is damaged or full.", "15m"),
        _counter_alert("PrometheusTSDBWALCorruptions", "prometheus_tsdb_wal_corruptions_total", "3h",
                       f"{PROM} found a corrupt write-ahead log", f"{{{{ $value | humanize }}}} WAL corruptions of "
                       f"{PROM} in 3 hours: recent samples may be lost.", "0m"),
        _counter_alert("PrometheusTargetLimitHit", "prometheus_target_scrape_pool_exceeded_target_limit_total", "5m",
                       f"{PROM} drops targets over the target limit", f"{PROM} hit a scrape pool's target limit "
                       "{{ $value | humanize }} times in 5 minutes: those targets are not scraped.", "15m"),
        _counter_alert("PrometheusLabelLimitHit", "prometheus_target_scrape_pool_exceeded_label_limits_total", "5m",
                       f"{PROM} drops targets over the label limits", f"{PROM} hit a scrape pool's label limits "
                       "{{ $value | humanize }} times in 5 minutes.", "15m"),
        _counter_alert("PrometheusSampleLimitHit", "prometheus_target_scrapes_exceeded_sample_limit_total", "5m",
                       f"{PROM} rejects scrapes over the sample limit", f"{{{{ $value | humanize }}}} scrapes of {PROM} "
                       "exceeded their sample limit in 5 minutes and were dropped whole.", "15m"),
        _counter_alert("PrometheusOutOfOrderSamples", "prometheus_target_scrapes_sample_out_of_order_total", "5m",
                       f"{PROM} drops out-of-order samples", f"{PROM} dropped {{{{ $value | humanize }}}} samples out of "
                       "order in 5 minutes: two targets write the same series.", "10m"),
        _counter_alert("PrometheusDuplicateTimestamps", "prometheus_target_scrapes_sample_duplicate_timestamp_total",
                       "5m", f"{PROM} drops samples with duplicate timestamps", f"{PROM} dropped "
                       "{{ $value | humanize }} samples with a duplicate timestamp and another value in 5 minutes.",
                       "10m"),
        _counter_alert("PrometheusSDRefreshFailure", "prometheus_sd_refresh_failures_total", "10m",
                       f"{PROM} fails to discover targets ({{{{ $labels.mechanism }}}})", "{{ $value | humanize }} "
                       "refreshes of {{ $labels.mechanism }} service discovery failed in 10 minutes.", "20m"),
        Alert("PrometheusRemoteWriteFailing", "rate(prometheus_remote_storage_samples_failed_total[5m]) / "
              "(rate(prometheus_remote_storage_samples_failed_total[5m]) + "
              "rate(prometheus_remote_storage_samples_total[5m])) > $threshold", "critical",
              "Remote write to {{ $labels.remote_name }} fails for {{ $value | humanizePercentage }} of samples",
              f"{PROM} fails {{{{ $value | humanizePercentage }}}} of the samples to {{{{ $labels.remote_name }}}} "
              "(threshold $threshold): long-term metrics are being lost.", "15m", 0.01, "ratio"),
        Alert("PrometheusRemoteWriteBehind", "max_over_time(prometheus_remote_storage_highest_timestamp_in_seconds[5m]) "
              "- ignoring (remote_name, url) group_right max_over_time("
              "prometheus_remote_storage_queue_highest_sent_timestamp_seconds[5m]) > $threshold", "warning",
              "Remote write to {{ $labels.remote_name }} lags {{ $value | humanizeDuration }}",
              f"{PROM} has sent {{{{ $labels.remote_name }}}} samples {{{{ $value | humanizeDuration }}}} old "
              "(threshold $threshold): Mimir is behind Prometheus.", "15m", 120, "seconds"),
        Alert("PrometheusRemoteWriteDesiredShards",
              "max_over_time(prometheus_remote_storage_shards_desired[5m]) > "
              "max_over_time(prometheus_remote_storage_shards_max[5m])", "warning",
              "Remote write to {{ $labels.remote_name }} needs more shards than allowed",
              f"{PROM} wants {{{{ $value }}}} shards for {{{{ $labels.remote_name }}}}, more than its maximum: it falls "
              "behind.", "15m"),
    ]


def _operator() -> list:
    ratio = "sum by (namespace, controller) (rate(prometheus_operator_{0}_{1}_total[5m])) / sum by (namespace, " \
            "controller) (rate(prometheus_operator_{0}_operations_total[5m])) > $threshold"
    controller = "{{ $labels.controller }}"
    return [
        Alert("PrometheusOperatorReconcileErrors", ratio.format("reconcile", "errors"), "warning",
              f"Prometheus Operator fails to reconcile {controller} objects",
              f"{{{{ $value | humanizePercentage }}}} of the {controller} reconciliations fail (threshold $threshold): "
              "changes to Prometheus, Alertmanager or monitors are not applied.", "10m", 0.1, "ratio"),
        Alert("PrometheusOperatorListErrors", ratio.format("list", "operations_failed"), "warning",
              f"Prometheus Operator fails to list objects ({controller})",
              f"{{{{ $value | humanizePercentage }}}} of the list calls of controller {controller} fail (threshold "
              "$threshold).", "15m", 0.4, "ratio"),
        Alert("PrometheusOperatorWatchErrors", ratio.format("watch", "operations_failed"), "warning",
              f"Prometheus Operator fails to watch objects ({controller})",
              f"{{{{ $value | humanizePercentage }}}} of the watch calls of controller {controller} fail (threshold "
              "$threshold).", "15m", 0.4, "ratio"),
        Alert("PrometheusOperatorStatusUpdateErrors", ratio.format("status_update", "errors"), "warning",
              f"Prometheus Operator fails to update {controller} status",
              f"{{{{ $value | humanizePercentage }}}} of the status updates of controller {controller} fail "
              "(threshold $threshold).", "10m", 0.1, "ratio"),
        Alert("PrometheusOperatorNotReady",
              "min by (namespace, controller) (max_over_time(prometheus_operator_ready[5m]) == 0)", "warning",
              f"Prometheus Operator controller {controller} is not ready",
              f"Controller {controller} has not been ready (ready={{{{ $value }}}}) for 5 minutes: it reconciles "
              "nothing.", "5m"),
        Alert("PrometheusOperatorSyncFailed", 'min_over_time(prometheus_operator_syncs{status="failed"}[5m]) > 0',
              "warning", f"Prometheus Operator cannot sync {controller} objects",
              f"{{{{ $value }}}} objects of controller {controller} are in a failed state.", "10m"),
        Alert("PrometheusOperatorNodeLookupErrors",
              "rate(prometheus_operator_node_address_lookup_errors_total[5m]) > $threshold", "warning",
              "Prometheus Operator cannot resolve node addresses",
              "The operator ({{ $labels.namespace }}/{{ $labels.instance }}) fails {{ $value | humanize }} node "
              "address lookups per second (threshold $threshold): "
              "the kubelet Service's endpoints go stale.", "10m", 0.1),
        Alert("ConfigReloaderSidecarErrors", "max_over_time(reloader_last_reload_successful[5m]) == 0", "warning",
              "Config reloader of {{ $labels.namespace }}/{{ $labels.pod }} fails",
              "The config reloader sidecar of {{ $labels.pod }} could not reload its process for 10 minutes (last "
              "reload successful={{ $value }}): new rules or receivers are not active.", "10m"),
    ]


def _alertmanager() -> list:
    am = "Alertmanager {{ $labels.namespace }}/{{ $labels.service }}"
    return [
        Alert("AlertmanagerFailedNotifications", "sum by (namespace, integration) (rate("
              "alertmanager_notifications_failed_total[5m])) / sum by (namespace, integration) (rate("
              "alertmanager_notifications_total[5m])) > $threshold", "critical",
              "Alertmanager fails to notify through {{ $labels.integration }}",
              "{{ $value | humanizePercentage }} of the notifications through {{ $labels.integration }} fail "
              "(threshold $threshold); check its Secret and egress.", "5m", 0.01, "ratio"),
        Alert("AlertmanagerConfigReloadFailed", "max_over_time(alertmanager_config_last_reload_successful[5m]) == 0",
              "critical", "Alertmanager configuration reload failed",
              "Alertmanager {{ $labels.pod }} could not load its new configuration (last reload successful="
              "{{ $value }}) and runs the old one.", "10m"),
        Alert("AlertmanagerConfigInconsistent", 'count by (namespace, service) (count_values by (namespace, service) '
              '("config_hash", alertmanager_config_hash)) != 1', "warning",
              f"{am} replicas run different configurations",
              f"The replicas of {am} run {{{{ $value }}}} different configurations: notifications depend on which "
              "replica handles them.", "20m"),
        Alert("AlertmanagerClusterMembersMissing", "max_over_time(alertmanager_cluster_members[5m]) < on (namespace, "
              "service) group_left count by (namespace, service) (max_over_time(alertmanager_cluster_members[5m]))",
              "warning", "Alertmanager peers do not see each other",
              "Alertmanager {{ $labels.instance }} sees {{ $value }} cluster members, fewer than there are replicas: "
              "duplicate notifications are likely.", "15m"),
        Alert("AlertmanagerClusterDown", '(count by (namespace, service) (avg_over_time(up{job="alertmanager"}[5m]) < '
              '0.5) / count by (namespace, service) (up{job="alertmanager"})) >= $threshold', "critical",
              f"{am}: half or more of the replicas are down",
              f"{{{{ $value | humanizePercentage }}}} of the replicas of {am} were unreachable over 5 minutes "
              "(threshold $threshold): notifications may not be sent.", "5m", 0.5, "ratio"),
        Alert("AlertmanagerClusterCrashlooping", '(count by (namespace, service) (changes(process_start_time_seconds'
              '{job="alertmanager"}[10m]) > 4) / count by (namespace, service) (up{job="alertmanager"})) >= $threshold',
              "critical", f"{am}: half or more of the replicas restart repeatedly",
              f"{{{{ $value | humanizePercentage }}}} of the replicas of {am} restarted more than 4 times in 10 "
              "minutes (threshold $threshold).", "5m", 0.5, "ratio"),
    ]


def groups(stack: StackConfig) -> dict[str, list]:
    return {"prometheus": _prometheus(), "prometheus-operator": _operator(), "alertmanager": _alertmanager()}
