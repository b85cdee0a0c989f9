"""The cluster's own machinery as EKS exposes it: kubelets, the API server, kube-state-metrics.

EKS runs the control plane: the API server's /metrics is served through the default `kubernetes`
Service (scraped as job `apiserver`, components/apiserver.py); the scheduler, controller-manager,
etcd and kube-proxy expose nothing we can scrape, so nothing here alerts on them. The kubelet's client
certificate metric exists only where the kubelet rotates a client certificate (not with EKS's IAM
authentication): the alert then simply stays quiet.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from stackgen.lib.alerts import Alert, Record

if TYPE_CHECKING:
    from stackgen.config import StackConfig

KUBELET = 'job="kubelet", metrics_path="/metrics"'
API = 'job="apiserver"'


def _kubelet() -> list:
    return [
        Record("instance:kubelet_pleg_relist_duration_seconds:p99_5m",
               f"histogram_quantile(0.99, sum by (instance, node, le) (rate(kubelet_pleg_relist_duration_seconds_bucket{{{KUBELET}}}[5m])))"),
        Record("instance:kubelet_pod_start_duration_seconds:p99_5m",
               f"histogram_quantile(0.99, sum by (instance, node, le) (rate(kubelet_pod_start_duration_seconds_bucket{{{KUBELET}}}[5m])))"),
        Alert("KubeletDown", f"up{{{KUBELET}}} == 0", "critical", "Kubelet {{ $labels.instance }} cannot be scraped",
              "Prometheus has not reached the kubelet of {{ $labels.node }} ({{ $labels.instance }}, up={{ $value }}) "
              "for 15 minutes: container metrics and volume stats of that node are missing.", "15m"),
        Alert("KubeletPlegDurationHigh", "instance:kubelet_pleg_relist_duration_seconds:p99_5m >= $threshold",
              "warning", "Kubelet on {{ $labels.node }} relists pods slowly",
              "The 99th percentile of the kubelet's pod lifecycle relist on {{ $labels.node }} is "
              "{{ $value | humanizeDuration }} (threshold $threshold): the container runtime is slow.", "5m", 10,
              "seconds"),
        Alert("KubeletPodStartUpLatencyHigh", "instance:kubelet_pod_start_duration_seconds:p99_5m > $threshold",
              "warning", "Pods on {{ $labels.node }} take {{ $value | humanizeDuration }} to start",
              "The 99th percentile of pod start-up on {{ $labels.node }} is {{ $value | humanizeDuration }} "
              "(threshold $threshold), image pulls included.", "15m", 60, "seconds"),
        Alert("KubeletRuntimeErrors", f"sum by (instance, node, operation_type) (rate(kubelet_runtime_operations_errors_total"
              f"{{{KUBELET}}}[5m])) > $threshold", "warning",
              "Container runtime on {{ $labels.node }} fails {{ $labels.operation_type }}",
              "The container runtime of {{ $labels.node }} fails {{ $value | humanize }} {{ $labels.operation_type }} "
              "operations per second (threshold $threshold).", "15m", 0.1),
        Alert("KubeletClientCertificateExpiration",
              f"kubelet_certificate_manager_client_ttl_seconds{{{KUBELET}}} < $threshold", "warning",
              "Kubelet client certificate of {{ $labels.node }} expires in {{ $value | humanizeDuration }}",
              "The kubelet of {{ $labels.node }} has a client certificate valid for {{ $value | humanizeDuration }} "
              "(threshold $threshold): rotation is failing.", "0m", 604800, "seconds"),
    ]


def _api_server() -> list:
    return [
        Record("code_verb:apiserver_request_total:rate5m",
               f"sum by (code, verb) (rate(apiserver_request_total{{{API}}}[5m]))"),
        Record("verb:apiserver_request_duration_seconds:p99_5m",
               f'histogram_quantile(0.99, sum by (verb, le) (rate(apiserver_request_duration_seconds_bucket{{{API}, '
               'verb!~"WATCH|CONNECT"}[5m])))'),
        Alert("KubeAPIDown", f"absent(up{{{API}}} == 1)", "critical", "The Kubernetes API server cannot be scraped",
              "No API server endpoint of the default kubernetes Service has answered Prometheus for 15 minutes (absent "
              "= {{ $value }}): check the ServiceMonitor, RBAC (nonResourceURLs /metrics) and egress.", "15m"),
        Alert("KubeAPIErrorsHigh",
              'sum by (verb) (code_verb:apiserver_request_total:rate5m{code=~"5.."}) / sum by (verb) '
              "(code_verb:apiserver_request_total:rate5m) > $threshold", "warning",
              "API server fails {{ $value | humanizePercentage }} of {{ $labels.verb }} requests",
              "{{ $value | humanizePercentage }} of the API server's {{ $labels.verb }} requests end in a 5xx "
              "(threshold $threshold).", "15m", 0.03, "ratio"),
        Alert("KubeAPILatencyHigh", "verb:apiserver_request_duration_seconds:p99_5m > $threshold", "warning",
              "API server {{ $labels.verb }} requests take {{ $value | humanizeDuration }}",
              "The 99th percentile of the API server's {{ $labels.verb }} requests is {{ $value | humanizeDuration }} "
              "(threshold $threshold).", "15m", 2, "seconds"),
        Alert("KubeAggregatedAPIDown", f"max by (name, namespace) (aggregator_unavailable_apiservice{{{API}}}) > 0",
              "warning", "APIService {{ $labels.name }} is unavailable",
              "The API server marks aggregated APIService {{ $labels.name }} unavailable ({{ $value }}): "
              "`kubectl top` and HPAs on its metrics fail.", "15m"),
        Alert("KubeClientErrors", 'sum by (namespace, job, instance) (rate(rest_client_requests_total{code=~"5.."}[5m])) '
              "/ sum by (namespace, job, instance) (rate(rest_client_requests_total[5m])) > $threshold", "warning",
              "{{ $labels.job }} at {{ $labels.instance }} gets API server errors",
              "{{ $value | humanizePercentage }} of the API requests of {{ $labels.job }} ({{ $labels.instance }}) "
              "fail with a 5xx (threshold $threshold).", "15m", 0.01, "ratio"),
    ]


def _kube_state_metrics() -> list:
    def errors(kind: str) -> Alert:
        metric = f"kube_state_metrics_{kind}_total"
        return Alert(f"KubeStateMetrics{kind.capitalize()}Errors",
                     f'sum by (namespace, job) (rate({metric}{{result="error"}}[5m])) / sum by (namespace, job) '
                     f"(rate({metric}[5m])) > $threshold", "critical",
                     f"kube-state-metrics fails to {kind} objects",
                     f"{{{{ $value | humanizePercentage }}}} of the {kind} calls of {{{{ $labels.job }}}} fail (threshold "
                     "$threshold): Kubernetes alerts are blind to the objects it cannot read.", "15m", 0.01, "ratio")
    return [errors("list"), errors("watch")]


def groups(stack: StackConfig) -> dict[str, list]:
    return {"kubernetes-system": [*_kubelet(), *_api_server(), *_kube_state_metrics()]}
