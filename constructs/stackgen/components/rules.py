"""Alerting and recording rules, grouped by area, as PrometheusRules the Prometheus CR selects.

Every expression uses only metrics of the catalog (catalog/metrics.yaml) or recorded here; every alert
has a severity (critical, warning, info), summary, description, runbook_url (a section of
docs/runbooks.md) and a `for`. Thresholds are the seed's (alerting.thresholds, ALERT_* variables).
Nothing for components EKS does not expose (etcd, scheduler, controller-manager, kube-proxy).
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from constructs import Construct
from imports.com.coreos import monitoring as m
from stackgen import versions
from stackgen.components import slo
from stackgen.context import Context
from stackgen.lib.alerts import Alert, Record
from stackgen.settings import Duration, Model, Ratio

if TYPE_CHECKING:  # the overlay's model imports every component's; this only annotates
    from stackgen.config import StackConfig


class AlertThresholds(Model):
    """The seed's alert thresholds (ALERT_* variables)."""
    cpu: Ratio = 0.8
    memory: Ratio = 0.9
    error_rate: Ratio = 0.05
    latency_seconds: float = Field(2, gt=0, le=120)
    for_duration: Duration = "5m"


class AlertOverride(Model):
    """One alert, changed for this overlay (alerting.overrides.<alert>)."""
    for_: Duration | None = Field(None, alias="for")
    severity: Literal["critical", "warning", "info"] | None = None


# Adds the pod's node to a per-pod alert, so that a node-down alert can inhibit it.
ON_NODE = "* on (namespace, pod) group_left (node) max by (namespace, pod, node) (kube_pod_info)"


def _openemr(stack: StackConfig) -> list:
    t, app = stack.alerting.thresholds, stack.app_namespace
    http = f'http_server_request_duration_seconds_count{{k8s_namespace_name="{app}"}}'
    errors = f'http_server_request_duration_seconds_count{{k8s_namespace_name="{app}",http_response_status_code=~"5.."}}'
    buckets = f'http_server_request_duration_seconds_bucket{{k8s_namespace_name="{app}"}}'
    by = "k8s_namespace_name, k8s_deployment_name"
    return [
        Record("openemr:http_server_requests:rate5m", f"sum by ({by}) (rate({http}[5m]))"),
        Record("openemr:http_server_errors:ratio_rate5m",
               f"sum by ({by}) (rate({errors}[5m])) / sum by ({by}) (rate({http}[5m]))"),
        Record("openemr:http_server_request_duration_seconds:p95_5m",
               f"histogram_quantile(0.95, sum by (le, {by}) (rate({buckets}[5m])))"),
        Alert("OpenEMRHighErrorRate", f"openemr:http_server_errors:ratio_rate5m > {t.error_rate}", "critical",
              "OpenEMR answers more than {{ $value | humanizePercentage }} of requests with 5xx",
              f"More than {t.error_rate:.0%} of the HTTP requests to {{{{ $labels.k8s_deployment_name }}}} failed "
              "with a server error over 5 minutes.", t.for_duration),
        Alert("OpenEMRHighLatency", f"openemr:http_server_request_duration_seconds:p95_5m > {t.latency_seconds:g}",
              "warning", "OpenEMR p95 latency is {{ $value | humanizeDuration }}",
              f"The 95th percentile of request duration of {{{{ $labels.k8s_deployment_name }}}} is above "
              f"{t.latency_seconds:g}s.", t.for_duration),
        Alert("OpenEMRNoTraffic",
              'absent(openemr:http_server_requests:rate5m) or sum without () (openemr:http_server_requests:rate5m) == 0',
              "warning", "No HTTP requests to OpenEMR are seen",
              "OTeBPF reports no request to OpenEMR (not even the kubelet's probes): OpenEMR is down or its "
              "instrumentation broke.", "15m"),
    ]


def _pods(stack: StackConfig) -> list:
    t, app = stack.alerting.thresholds, stack.app_namespace
    sel = f'namespace="{app}", container!=""'
    per_container = "sum by (namespace, pod, container)"
    return [
        Alert("OpenEMRDown", f'kube_deployment_status_replicas_available{{namespace="{app}", '
              f'deployment="{stack.openemr.deployment}"}} == 0', "critical",
              "OpenEMR has no available replica", "Deployment {{ $labels.deployment }} has no ready pod: the "
              "application is unavailable.", "2m"),
        Alert("OpenEMRReplicasUnavailable", f'kube_deployment_status_replicas_available{{namespace="{app}"}} < '
              f'kube_deployment_spec_replicas{{namespace="{app}"}}', "warning",
              "OpenEMR runs with fewer replicas than desired",
              "Deployment {{ $labels.deployment }} has {{ $value }} available replicas, fewer than desired.", "10m"),
        Alert("OpenEMRPodNotReady", f'(sum by (namespace, pod) (kube_pod_status_ready{{namespace="{app}", '
              f'condition="false"}}) > 0) {ON_NODE}', "warning", "OpenEMR pod {{ $labels.pod }} is not ready",
              "Pod {{ $labels.pod }} on node {{ $labels.node }} has not been ready for 10 minutes.", "10m"),
        Alert("OpenEMRPodRestarting", f'increase(kube_pod_container_status_restarts_total{{namespace="{app}"}}[15m]) > 2',
              "warning", "OpenEMR container {{ $labels.container }} restarts repeatedly",
              "Container {{ $labels.container }} of pod {{ $labels.pod }} restarted more than twice in 15 minutes.",
              "0m"),
        Alert("OpenEMRContainerOOMKilled",
              f'kube_pod_container_status_last_terminated_reason{{namespace="{app}", reason="OOMKilled"}} == 1 and on '
              f'(namespace, pod, container) increase(kube_pod_container_status_restarts_total{{namespace="{app}"}}[10m]) > 0',
              "warning", "OpenEMR container {{ $labels.container }} was OOM-killed",
              "Container {{ $labels.container }} of pod {{ $labels.pod }} ran out of memory and was killed.", "0m"),
        Alert("OpenEMRCPUThrottled",
              f"{per_container} (increase(container_cpu_cfs_throttled_periods_total{{{sel}}}[5m])) / "
              f"{per_container} (increase(container_cpu_cfs_periods_total{{{sel}}}[5m])) > 0.25", "warning",
              "OpenEMR container {{ $labels.container }} is CPU-throttled",
              "{{ $value | humanizePercentage }} of CPU periods of {{ $labels.pod }} were throttled.", "15m"),
        Alert("OpenEMRCPUNearLimit",
              f"{per_container} (rate(container_cpu_usage_seconds_total{{{sel}}}[5m])) / {per_container} "
              f'(kube_pod_container_resource_limits{{namespace="{app}", resource="cpu"}}) > {t.cpu}', "warning",
              "OpenEMR container {{ $labels.container }} uses {{ $value | humanizePercentage }} of its CPU limit",
              f"CPU use of {{{{ $labels.pod }}}} is above {t.cpu:.0%} of its limit.", t.for_duration),
        Alert("OpenEMRMemoryNearLimit",
              f"{per_container} (container_memory_working_set_bytes{{{sel}}}) / {per_container} "
              f'(kube_pod_container_resource_limits{{namespace="{app}", resource="memory"}}) > {t.memory}', "warning",
              "OpenEMR container {{ $labels.container }} uses {{ $value | humanizePercentage }} of its memory limit",
              f"Memory of {{{{ $labels.pod }}}} is above {t.memory:.0%} of its limit; an OOM kill is near.",
              t.for_duration),
    ]


def _kubernetes(stack: StackConfig) -> list:
    app = stack.app_namespace
    return [
        Alert("KubeNodeNotReady", 'kube_node_status_condition{condition="Ready", status="true"} == 0', "critical",
              "Node {{ $labels.node }} is not ready", "Node {{ $labels.node }} has not been ready for 5 minutes; "
              "its pods are being rescheduled (their alerts are inhibited).", "5m"),
        Alert("KubePodNotReady", f'(sum by (namespace, pod) (kube_pod_status_phase{{namespace!="{app}", '
              f'phase=~"Pending|Unknown|Failed"}}) > 0) {ON_NODE}', "warning",
              "Pod {{ $labels.namespace }}/{{ $labels.pod }} is not running",
              "Pod {{ $labels.pod }} has been pending, failed or unknown for 15 minutes.", "15m"),
        Alert("KubePodCrashLooping", f'increase(kube_pod_container_status_restarts_total{{namespace!="{app}"}}[15m]) > 2',
              "warning", "Container {{ $labels.namespace }}/{{ $labels.pod }}/{{ $labels.container }} restarts repeatedly",
              "It restarted more than twice in 15 minutes.", "0m"),
        Alert("KubeDeploymentReplicasMismatch",
              "kube_deployment_spec_replicas != kube_deployment_status_replicas_available", "warning",
              "Deployment {{ $labels.namespace }}/{{ $labels.deployment }} is not at its desired replicas",
              "Available replicas differ from the desired count for 15 minutes.", "15m"),
        Alert("KubeStatefulSetReplicasMismatch", "kube_statefulset_status_replicas_ready != kube_statefulset_replicas",
              "warning", "StatefulSet {{ $labels.namespace }}/{{ $labels.statefulset }} is not at its desired replicas",
              "Ready replicas differ from the desired count for 15 minutes.", "15m"),
        Alert("KubeDaemonSetNotScheduled", "kube_daemonset_status_desired_number_scheduled - "
              "kube_daemonset_status_number_ready > 0", "warning",
              "DaemonSet {{ $labels.namespace }}/{{ $labels.daemonset }} is not ready on {{ $value }} node(s)",
              "Some nodes run no ready pod of the DaemonSet (for otebpf and fluent-bit: traces, metrics or logs of "
              "those nodes are missing).", "15m"),
        Alert("KubeJobFailed", "kube_job_status_failed > 0", "warning",
              "Job {{ $labels.namespace }}/{{ $labels.job_name }} failed", "The job has failed pods.", "15m"),
        Alert("KubeHpaMaxedOut", "kube_horizontalpodautoscaler_status_current_replicas == "
              "kube_horizontalpodautoscaler_spec_max_replicas", "warning",
              "HPA {{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }} is at its maximum",
              "The autoscaler has run at max replicas for 30 minutes; raise max_replicas or the node budget.", "30m"),
        Alert("KubePersistentVolumeFillingUp", "kubelet_volume_stats_available_bytes / "
              "kubelet_volume_stats_capacity_bytes < 0.15", "warning",
              "Volume {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} is {{ $value | humanizePercentage }} free",
              "Less than 15% of the volume is free.", "5m"),
        Alert("KubePersistentVolumeFull", "kubelet_volume_stats_available_bytes / "
              "kubelet_volume_stats_capacity_bytes < 0.03", "critical",
              "Volume {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} is almost full",
              "Less than 3% of the volume is free; writes will fail.", "1m"),
        Alert("NodeFilesystemFillingUp", 'node_filesystem_avail_bytes{fstype!=""} / node_filesystem_size_bytes{fstype!=""} '
              '< 0.15 and node_filesystem_readonly{fstype!=""} == 0', "warning",
              "Filesystem {{ $labels.mountpoint }} on {{ $labels.instance }} is {{ $value | humanizePercentage }} free",
              "Less than 15% of the filesystem is free.", "15m"),
        Alert("NodeMemoryHigh", "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes > "
              f"{stack.alerting.thresholds.memory}", "warning", "Node {{ $labels.instance }} memory is nearly used up",
              "{{ $value | humanizePercentage }} of the node's memory is in use.", "15m"),
        Alert("NodeClockSkew", "abs(node_timex_offset_seconds) > 0.05", "warning",
              "Clock of {{ $labels.instance }} is off by {{ $value }}s",
              "The node clock is more than 50ms off; TLS, tokens and timestamps of audit logs suffer.", "10m"),
    ]


def _error_ratio(metric: str) -> str:
    total = f"sum by (namespace, job) (rate({metric}[5m]))"
    return f'sum by (namespace, job) (rate({metric}{{status_code=~"5.."}}[5m])) / {total} > 0.05'


def _stack(stack: StackConfig) -> list:
    ns, agents_ns = stack.namespace, stack.agents_namespace
    agents = ["fluent-bit", *(["otebpf"] if stack.otebpf.enabled else [])]
    daemonsets = "|".join(agents)
    return [
        Alert("Watchdog", "vector(1)", "info", "The alerting pipeline works",
              "Always firing. If it stops arriving at a dead man's switch, Prometheus or Alertmanager is down.", "0m"),
        Alert("TargetDown", "100 * (count by (namespace, job) (up == 0) / count by (namespace, job) (up)) > 10",
              "warning", "{{ $value | humanize }}% of {{ $labels.job }} targets are down",
              "Prometheus cannot scrape these targets; their alerts cannot fire.", "10m"),
        Alert("PrometheusRuleFailures", "increase(prometheus_rule_evaluation_failures_total[5m]) > 0", "critical",
              "Prometheus fails to evaluate rules", "Rule evaluations failed: some alerts cannot fire.", "15m"),
        Alert("PrometheusConfigReloadFailed", "max_over_time(prometheus_config_last_reload_successful[5m]) == 0",
              "warning", "Prometheus configuration reload failed", "Prometheus runs an old configuration.", "10m"),
        Alert("PrometheusNotificationsFailing", "rate(prometheus_notifications_errors_total[5m]) / "
              "rate(prometheus_notifications_sent_total[5m]) > 0.01", "critical",
              "Prometheus cannot send alerts to Alertmanager", "Alerts are not delivered.", "15m"),
        Alert("PrometheusRemoteWriteFailing", "rate(prometheus_remote_storage_samples_failed_total[5m]) / "
              "(rate(prometheus_remote_storage_samples_failed_total[5m]) + "
              "rate(prometheus_remote_storage_samples_total[5m])) > 0.01", "critical",
              "Remote write to Mimir fails for {{ $value | humanizePercentage }} of samples",
              "Long-term metrics are being lost.", "15m"),
        Alert("PrometheusRemoteWriteBehind", "max_over_time(prometheus_remote_storage_highest_timestamp_in_seconds[5m]) "
              "- ignoring (remote_name, url) group_right max_over_time("
              "prometheus_remote_storage_queue_highest_sent_timestamp_seconds[5m]) > 120", "warning",
              "Remote write to Mimir lags {{ $value | humanizeDuration }}", "Mimir is behind Prometheus.", "15m"),
        Alert("PrometheusTSDBCompactionsFailing", "increase(prometheus_tsdb_compactions_failed_total[3h]) > 0",
              "warning", "Prometheus TSDB compactions fail", "The local TSDB grows and queries slow down.", "15m"),
        Alert("AlertmanagerFailedNotifications", "sum by (namespace, integration) (rate("
              "alertmanager_notifications_failed_total[5m])) / sum by (namespace, integration) (rate("
              "alertmanager_notifications_total[5m])) > 0.01", "critical",
              "Alertmanager fails to notify through {{ $labels.integration }}",
              "Notifications through {{ $labels.integration }} fail; check its Secret and egress.", "5m"),
        Alert("AlertmanagerConfigReloadFailed", "max_over_time(alertmanager_config_last_reload_successful[5m]) == 0",
              "critical", "Alertmanager configuration reload failed", "Alertmanager runs an old configuration.", "10m"),
        Alert("AlertmanagerClusterMembersMissing", "max_over_time(alertmanager_cluster_members[5m]) < on (namespace, "
              "service) group_left count by (namespace, service) (max_over_time(alertmanager_cluster_members[5m]))",
              "warning", "Alertmanager peers do not see each other",
              "Some Alertmanager replicas are not in the cluster: duplicate notifications are likely.", "15m"),
        Alert("LokiRequestErrors", _error_ratio("loki_request_duration_seconds_count"), "warning",
              "Loki {{ $labels.job }} fails {{ $value | humanizePercentage }} of requests",
              "Log queries or pushes fail.", "15m"),
        Alert("LokiIngestionRefused", "sum by (namespace, reason) (rate(loki_discarded_samples_total[5m])) > 0",
              "warning", "Loki refuses log lines ({{ $labels.reason }})", "Logs are being dropped by Loki.", "15m"),
        Alert("LokiRetentionNotRunning", "time() - max by (namespace) ("
              "loki_compactor_apply_retention_last_successful_run_timestamp_seconds) > 86400", "warning",
              "Loki retention has not run for a day", "Old logs are not deleted: retention cannot be proven.", "1h"),
        Alert("TempoRequestErrors", _error_ratio("tempo_request_duration_seconds_count"), "warning",
              "Tempo {{ $labels.job }} fails {{ $value | humanizePercentage }} of requests",
              "Trace pushes or queries fail.", "15m"),
        Alert("TempoDiscardingSpans", "sum by (namespace, reason) (rate(tempo_discarded_spans_total[5m])) > 0",
              "warning", "Tempo discards spans ({{ $labels.reason }})", "Traces are incomplete.", "15m"),
        Alert("TempoRetentionFailing", "increase(tempodb_retention_errors_total[1h]) > 0", "warning",
              "Tempo retention fails", "Expired trace blocks are not deleted.", "5m"),
        Alert("MimirRequestErrors", _error_ratio("cortex_request_duration_seconds_count"), "warning",
              "Mimir {{ $labels.job }} fails {{ $value | humanizePercentage }} of requests",
              "Remote writes or long-term queries fail.", "15m"),
        Alert("MimirIngestionRejected", "sum by (namespace, reason) (rate(cortex_discarded_samples_total[5m])) > 0",
              "warning", "Mimir discards samples ({{ $labels.reason }})", "Long-term metrics are incomplete.", "15m"),
        Alert("MimirCompactorNotRunning", "time() - max by (namespace) ("
              "cortex_compactor_last_successful_run_timestamp_seconds) > 86400", "warning",
              "Mimir's compactor has not completed for a day", "Blocks are not compacted nor deleted.", "1h"),
        Alert("RingMembersUnhealthy", 'max by (namespace, job, name) (cortex_ring_members{state="Unhealthy"}) > 0 or '
              'max by (namespace, job, name) (tempo_ring_members{state="Unhealthy"}) > 0', "critical",
              "{{ $labels.job }} ring {{ $labels.name }} has unhealthy members",
              "Writes may fail to reach enough replicas.", "15m"),
        Alert("FluentBitRetriesFailing", "increase(fluentbit_output_retries_failed_total[10m]) > 0", "warning",
              "Fluent Bit on {{ $labels.instance }} gives up retries", "Loki refuses or is unreachable.", "5m"),
        Alert("FluentBitDroppingRecords", "increase(fluentbit_output_dropped_records_total[10m]) > 0", "critical",
              "Fluent Bit on {{ $labels.instance }} drops log records",
              "Log records are lost: the audit trail has a gap.", "0m"),
        Alert("CollectorNotRunning", f'kube_daemonset_status_desired_number_scheduled{{namespace="{agents_ns}", '
              f'daemonset=~"{daemonsets}"}} - kube_daemonset_status_number_ready{{namespace="{agents_ns}", '
              f'daemonset=~"{daemonsets}"}} > 0', "warning",
              "{{ $labels.daemonset }} is not running on {{ $value }} node(s)",
              "Nodes without the collector send no traces, RED metrics or logs.", "10m"),
        Alert("GrafanaDown", f'sum by (namespace, job) (up{{namespace="{ns}", job="grafana"}}) == 0 or '
              f'absent(up{{namespace="{ns}", job="grafana"}})', "warning", "Grafana is down",
              "Dashboards are unavailable; alerting is not affected.", "5m"),
    ]


def _all_groups(stack: StackConfig) -> dict[str, list]:
    areas = {"openemr-pods": _pods(stack), "kubernetes": _kubernetes(stack), "stack": _stack(stack)}
    if stack.otebpf.enabled:  # its HTTP metrics exist only with OTeBPF
        areas = {"openemr-service": _openemr(stack), "openemr-slo": slo.rules(stack), **areas}
    return areas


def override_problems(stack: StackConfig) -> list[str]:
    """Alert names in alerting.disabled / alerting.overrides that this overlay does not render."""
    alerts = {r.name: r for rules in _all_groups(stack).values() for r in rules if isinstance(r, Alert)}
    known = ", ".join(sorted(alerts))
    problems = [f"alerting.disabled: unknown alert {name!r}; alerts: {known}"
                for name in stack.alerting.disabled if name not in alerts]
    for name in stack.alerting.overrides:
        if name not in alerts:
            problems.append(f"alerting.overrides.{name}: unknown alert; alerts: {known}")
    return problems


def _overridden(alert: Alert, override: AlertOverride) -> Alert:
    return dataclasses.replace(alert, severity=override.severity or alert.severity, for_=override.for_ or alert.for_)


def groups(stack: StackConfig) -> dict[str, list]:
    """The rendered rule groups: every area, less the disabled alerts, with the overrides applied."""
    alerting, areas = stack.alerting, {}
    for area, rules in _all_groups(stack).items():
        kept = [r for r in rules if not (isinstance(r, Alert) and r.name in alerting.disabled)]
        areas[area] = [_overridden(r, alerting.overrides[r.name]) if isinstance(r, Alert) and r.name in
                       alerting.overrides else r for r in kept]
    return areas


def _rule(rule, stack: StackConfig) -> m.PrometheusRuleSpecGroupsRules:
    if isinstance(rule, Record):
        return m.PrometheusRuleSpecGroupsRules(record=rule.name, expr=m.PrometheusRuleSpecGroupsRulesExpr.from_string(rule.expr))
    return m.PrometheusRuleSpecGroupsRules(
        alert=rule.name, expr=m.PrometheusRuleSpecGroupsRulesExpr.from_string(rule.expr), for_=rule.for_,
        labels={"severity": rule.severity},
        annotations={"summary": rule.summary, "description": rule.description,
                     "runbook_url": f"{stack.alerting.runbook_url}#{rule.name.lower()}"})


class Rules(Construct):
    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, "rules")
        stack = ctx.config
        identity = ctx.identity("prometheus-rules", "rules", versions.PROMETHEUS)
        for area, rules in groups(stack).items():
            m.PrometheusRule(
                self, area, metadata={"name": area, "namespace": ctx.namespace, "labels": identity.selection_labels},
                spec=m.PrometheusRuleSpec(groups=[m.PrometheusRuleSpecGroups(
                    name=area, rules=[_rule(rule, stack) for rule in rules])]))


def alert_table(rule_objects: list[dict]) -> str:
    """The README's alert list, generated from rendered PrometheusRules (`python main.py alerts`)."""
    rows = ["| group | alert | severity | for | summary |", "|---|---|---|---|---|"]
    for obj in rule_objects:
        for group in obj["spec"]["groups"]:
            rows += [f"| {group['name']} | [{r['alert']}](docs/runbooks.md#{r['alert'].lower()}) | "
                     f"{r['labels']['severity']} | {r['for']} | {r['annotations']['summary'].replace('|', '/')} |"
                     for r in group["rules"] if "alert" in r]
    return "\n".join(rows) + "\n"
