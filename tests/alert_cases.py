"""promtool unit-test cases, one per alert: input series that make it fire (with the labels expected on
the alert, severity aside) and series that keep it quiet. Written from what each alert should detect,
with the seed's default thresholds (error rate 5%, p95 2s, CPU 80%, memory 90%, for 5m)."""

from alert_cases_base import APP, BUCKET, HTTP, OPENEMR, POD, POD_SEL, SHOP, case, rising  # noqa: F401
from alert_cases_kubernetes import KUBERNETES_CASES
from alert_cases_node import NODE_CASES
from alert_cases_stack import STACK_CASES
from alert_cases_elasticsearch import ELASTICSEARCH_CASES
from alert_cases_certificates import CERTIFICATE_CASES

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
        "15m", POD),
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
    **NODE_CASES,
    **KUBERNETES_CASES,
    **STACK_CASES,
    **ELASTICSEARCH_CASES,
    **CERTIFICATE_CASES,
}
