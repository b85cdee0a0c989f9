"""Alerting and recording rules, grouped by area, as PrometheusRules the Prometheus CR selects.

This package holds OpenEMR's groups and the mechanism here; the other areas are its modules: node
(node-exporter), kubernetes (workloads, storage, resources), cluster (kubelet, API server,
kube-state-metrics), stack (Prometheus, its operator and reloaders, Alertmanager), backends (Loki,
Tempo, Mimir, Fluent Bit, OTeBPF, Grafana), certificates (TLS renewal), elasticsearch (logs.backend)
and slo (burn-rate alerts).
Every expression uses only metrics of the catalog (catalog/metrics.yaml) or recorded here; every alert
has a severity (critical, warning, info), summary, description naming the object and its value,
runbook_url (a section of docs/runbooks.md) and a `for`. Every number an alert compares against is its
declared threshold (lib/alerts.py), so an overlay can replace it (alerting.overrides.<Name>.threshold);
the seed's thresholds (alerting.thresholds, ALERT_* variables) are the defaults of the alerts they name.
Nothing for components EKS does not expose (etcd, scheduler, controller-manager, kube-proxy).
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from constructs import Construct
from imports.com.coreos import monitoring as m
from stackgen import versions
from stackgen.components.rules import (backends, certificates, cluster, elasticsearch, kubernetes, node, slo,
                                      stack as stack_rules)
from stackgen.context import Context
from stackgen.lib.alerts import ON_NODE, Alert, Record
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
    # Replaces the alert's declared threshold (the number its expression compares against), same unit.
    threshold: float | None = None



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
        Alert("OpenEMRHighErrorRate", "openemr:http_server_errors:ratio_rate5m > $threshold", "critical",
              "OpenEMR answers more than {{ $value | humanizePercentage }} of requests with 5xx",
              "{{ $value | humanizePercentage }} of the HTTP requests to {{ $labels.k8s_deployment_name }} failed "
              "with a server error over 5 minutes (threshold $threshold).", t.for_duration, t.error_rate, "ratio"),
        Alert("OpenEMRHighLatency", "openemr:http_server_request_duration_seconds:p95_5m > $threshold",
              "warning", "OpenEMR p95 latency is {{ $value | humanizeDuration }}",
              "The 95th percentile of request duration of {{ $labels.k8s_deployment_name }} is "
              "{{ $value | humanizeDuration }}, above $threshold.", t.for_duration, t.latency_seconds, "seconds"),
        Alert("OpenEMRNoTraffic",
              'absent(openemr:http_server_requests:rate5m) or sum without () (openemr:http_server_requests:rate5m) == 0',
              "warning", "No HTTP requests to OpenEMR are seen",
              "OTeBPF reports no request to OpenEMR in namespace "
              f"{app} (not even the kubelet's probes) for 15 minutes (value {{{{ $value }}}}): OpenEMR is down or its instrumentation broke.",
              "15m"),
    ]


def _pods(stack: StackConfig) -> list:
    t, app = stack.alerting.thresholds, stack.app_namespace
    sel = f'namespace="{app}", container!=""'
    per_container = "sum by (namespace, pod, container)"
    return [
        Alert("OpenEMRDown", f'kube_deployment_status_replicas_available{{namespace="{app}", '
              f'deployment="{stack.openemr.deployment}"}} == 0', "critical",
              "OpenEMR has no available replica", "Deployment {{ $labels.namespace }}/{{ $labels.deployment }} has "
              "{{ $value }} available pods: the application is unavailable.", "2m"),
        Alert("OpenEMRReplicasUnavailable", f'kube_deployment_status_replicas_available{{namespace="{app}"}} < '
              f'kube_deployment_spec_replicas{{namespace="{app}"}}', "warning",
              "OpenEMR runs with fewer replicas than desired",
              "Deployment {{ $labels.deployment }} has {{ $value }} available replicas, fewer than desired.", "10m"),
        Alert("OpenEMRPodNotReady", f'(sum by (namespace, pod) (kube_pod_status_ready{{namespace="{app}", '
              f'condition="false"}}) > 0) {ON_NODE}', "warning", "OpenEMR pod {{ $labels.pod }} is not ready",
              "Pod {{ $labels.pod }} on node {{ $labels.node }} has not been ready for 10 minutes "
              "(not-ready conditions: {{ $value }}).", "10m"),
        Alert("OpenEMRPodRestarting", f'increase(kube_pod_container_status_restarts_total{{namespace="{app}"}}[15m]) '
              "> $threshold", "warning", "OpenEMR container {{ $labels.container }} restarts repeatedly",
              "Container {{ $labels.container }} of pod {{ $labels.pod }} restarted {{ $value | humanize }} times in "
              "15 minutes (threshold $threshold).", "0m", 2),
        Alert("OpenEMRContainerOOMKilled",
              f'increase(kube_pod_container_status_restarts_total{{namespace="{app}"}}[10m]) > 0 and on (namespace, pod, '
              f'container) kube_pod_container_status_last_terminated_reason{{namespace="{app}", reason="OOMKilled"}} == 1',
              "warning", "OpenEMR container {{ $labels.container }} was OOM-killed",
              "Container {{ $labels.container }} of pod {{ $labels.pod }} ran out of memory and was killed "
              "({{ $value | humanize }} restarts in 10 minutes, the last one OOMKilled).", "0m"),
        Alert("OpenEMRCPUThrottled",
              f"{per_container} (increase(container_cpu_cfs_throttled_periods_total{{{sel}}}[5m])) / "
              f"{per_container} (increase(container_cpu_cfs_periods_total{{{sel}}}[5m])) > $threshold", "warning",
              "OpenEMR container {{ $labels.container }} is CPU-throttled",
              "{{ $value | humanizePercentage }} of CPU periods of {{ $labels.pod }}/{{ $labels.container }} were "
              "throttled (threshold $threshold).", "15m", 0.25, "ratio"),
        Alert("OpenEMRCPUNearLimit",
              f"{per_container} (rate(container_cpu_usage_seconds_total{{{sel}}}[5m])) / {per_container} "
              f'(kube_pod_container_resource_limits{{namespace="{app}", resource="cpu"}}) > $threshold', "warning",
              "OpenEMR container {{ $labels.container }} uses {{ $value | humanizePercentage }} of its CPU limit",
              "CPU use of {{ $labels.pod }}/{{ $labels.container }} is {{ $value | humanizePercentage }} of its "
              "limit, above $threshold.", t.for_duration, t.cpu, "ratio"),
        Alert("OpenEMRMemoryNearLimit",
              f"{per_container} (container_memory_working_set_bytes{{{sel}}}) / {per_container} "
              f'(kube_pod_container_resource_limits{{namespace="{app}", resource="memory"}}) > $threshold', "warning",
              "OpenEMR container {{ $labels.container }} uses {{ $value | humanizePercentage }} of its memory limit",
              "Memory of {{ $labels.pod }}/{{ $labels.container }} is {{ $value | humanizePercentage }} of its "
              "limit, above $threshold; an OOM kill is near.", t.for_duration, t.memory, "ratio"),
    ]


def _all_groups(stack: StackConfig) -> dict[str, list]:
    areas = {"openemr-pods": _pods(stack), **node.groups(stack), **kubernetes.groups(stack),
             **cluster.groups(stack), **stack_rules.groups(stack), **backends.groups(stack),
             **certificates.groups(stack)}
    if stack.otebpf.enabled:  # its HTTP metrics exist only with OTeBPF
        areas = {"openemr-service": _openemr(stack), "openemr-slo": slo.rules(stack), **areas}
    return elasticsearch.adjust(stack, areas)  # logs.backend: Elasticsearch's rules, Loki's only if rendered


def override_problems(stack: StackConfig) -> list[str]:
    """Alert names in alerting.disabled / alerting.overrides that this overlay does not render."""
    alerts = {r.name: r for rules in _all_groups(stack).values() for r in rules if isinstance(r, Alert)}
    known = ", ".join(sorted(alerts))
    problems = [f"alerting.disabled: unknown alert {name!r}; alerts: {known}"
                for name in stack.alerting.disabled if name not in alerts]
    for name, override in stack.alerting.overrides.items():
        if name not in alerts:
            problems.append(f"alerting.overrides.{name}: unknown alert; alerts: {known}")
        elif override.threshold is not None and alerts[name].threshold is None:
            with_threshold = ", ".join(sorted(n for n, a in alerts.items() if a.threshold is not None))
            problems.append(f"alerting.overrides.{name}.threshold: {name} compares against no threshold of its "
                            f"own; alerts with a threshold: {with_threshold}")
    return problems


def _overridden(alert: Alert, override: AlertOverride) -> Alert:
    alert = dataclasses.replace(alert, severity=override.severity or alert.severity, for_=override.for_ or alert.for_)
    return alert if override.threshold is None else alert.with_threshold(override.threshold)


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
    expr, summary, description = rule.rendered()
    return m.PrometheusRuleSpecGroupsRules(
        alert=rule.name, expr=m.PrometheusRuleSpecGroupsRulesExpr.from_string(expr), for_=rule.for_,
        labels={"severity": rule.severity},
        annotations={"summary": summary, "description": description,
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
