"""promtool cases for the kubernetes-apps, kubernetes-storage, kubernetes-resources and kubernetes-system
groups (kube-state-metrics, kubelet, API server). Pods live in namespace `shop` (not OpenEMR's)."""
from alert_cases_base import MON, SHOP, case, gauge, rising

NODE = f'kube_pod_info{{{SHOP},pod="p1",node="n1"}}'
C = f'{SHOP},pod="p1",container="c"'
CONTAINER = {"namespace": "shop", "pod": "p1", "container": "c"}
KUBELET = 'job="kubelet",metrics_path="/metrics",instance="10.0.0.1:10250",node="n1"'
KUBELET_LABELS = {"job": "kubelet", "metrics_path": "/metrics", "instance": "10.0.0.1:10250", "node": "n1"}
API = 'job="apiserver"'



def pair(left, right, fire, quiet, same, at, labels):
    """Two gauges compared: `left` at fire/quiet, `right` at same."""
    return case({left: fire, right: same}, {left: quiet, right: same}, at, labels)


def waiting(reason, quiet_reason, at, steps):
    series = 'kube_pod_container_status_waiting_reason{%s,reason="%s"}'
    return case({series % (C, reason): f"1x{steps}", NODE: f"1x{steps}"},
                {series % (C, quiet_reason): f"1x{steps}", NODE: f"1x{steps}"}, at, {**CONTAINER, "node": "n1"})


def overcommit(resource, unit):
    requests = f'kube_pod_container_resource_requests{{{C},resource="{resource}",unit="{unit}"}}'
    running = f'kube_pod_status_phase{{{SHOP},pod="p1",phase="Running"}}'
    nodes = {f'kube_node_status_allocatable{{node="n{i}",resource="{resource}",unit="{unit}"}}': "2x20" for i in (1, 2)}
    # 3 requested of the 2 left when the larger of two 2-unit nodes is lost; quiet: 1.5 of 2.
    return case({requests: "3x20", running: "1x20", **nodes}, {requests: "1.5x20", running: "1x20", **nodes}, "15m", {})


def histogram(metric, selector, fire, quiet, at, labels, steps=40):
    """fire/quiet: {le: per-minute increase}; every bucket rises by what falls in or below it."""
    def series(buckets):
        return {f'{metric}_bucket{{{selector},le="{le}"}}': rising(n, steps) for le, n in buckets.items()}
    return case(series(fire), series(quiet), at, labels)


def quota(used):
    q = f'{SHOP},resourcequota="q",resource="pods"'
    return case({f'kube_resourcequota{{{q},type="used"}}': f"{used}x30", f'kube_resourcequota{{{q},type="hard"}}': "100x30"},
                {f'kube_resourcequota{{{q},type="used"}}': "50x30", f'kube_resourcequota{{{q},type="hard"}}': "100x30"},
                "20m", {"namespace": "shop", "resourcequota": "q", "resource": "pods"})


def errors_ratio(metric, selector, bad, good, labels, bad_share=5):
    return case({f"{metric}{{{selector},{bad}}}": rising(bad_share), f"{metric}{{{selector},{good}}}": rising(100 - bad_share)},
                {f"{metric}{{{selector},{bad}}}": "0x40", f"{metric}{{{selector},{good}}}": rising(100)}, "25m", labels)


DEPLOYMENT = {"namespace": "shop", "deployment": "d"}
STATEFULSET = {"namespace": "shop", "statefulset": "s"}
DAEMONSET = {"namespace": "shop", "daemonset": "a"}
HPA = f'{SHOP},horizontalpodautoscaler="h"'
CLAIM = {"namespace": "shop", "persistentvolumeclaim": "c"}
PVC = f'{SHOP},persistentvolumeclaim="c"'
STS_REVISION = f'{SHOP},statefulset="s"'
JOB = f'{SHOP},job_name="j"'

KUBERNETES_CASES = {
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
    "KubePodUnschedulable": gauge(f'kube_pod_status_unschedulable{{{SHOP},pod="p1"}}', "1x30", "0x30", "20m",
                                  {"namespace": "shop", "pod": "p1"}),
    # ContainerCreating for an hour; the quiet twin is crash-looping, which KubePodCrashLooping reports.
    "KubeContainerWaiting": waiting("ContainerCreating", "CrashLoopBackOff", "70m", 80),
    "KubeContainerImagePullFailing": waiting("ImagePullBackOff", "ContainerCreating", "20m", 30),
    "KubeContainerOOMKilled": case(
        {f'kube_pod_container_status_last_terminated_reason{{{C},reason="OOMKilled"}}': "1x20",
         f"kube_pod_container_status_restarts_total{{{C}}}": "0x10 1x10"},
        {f'kube_pod_container_status_last_terminated_reason{{{C},reason="OOMKilled"}}': "1x20",
         f"kube_pod_container_status_restarts_total{{{C}}}": "1x20"}, "15m", CONTAINER),
    "CPUThrottlingHigh": pair(f"container_cpu_cfs_throttled_periods_total{{{C}}}", f"container_cpu_cfs_periods_total{{{C}}}",
                              rising(30), rising(10), rising(100), "25m", CONTAINER),
    "KubeDeploymentGenerationMismatch": pair(
        f'kube_deployment_status_observed_generation{{{SHOP},deployment="d"}}',
        f'kube_deployment_metadata_generation{{{SHOP},deployment="d"}}', "1x30", "2x30", "2x30", "20m", DEPLOYMENT),
    "KubeDeploymentRolloutStuck": gauge(
        f'kube_deployment_status_condition{{{SHOP},deployment="d",condition="Progressing",status="false",'
        'reason="ProgressDeadlineExceeded"}', "1x30", "0x30", "20m",
        {**DEPLOYMENT, "condition": "Progressing", "status": "false", "reason": "ProgressDeadlineExceeded"}),
    "KubeStatefulSetGenerationMismatch": pair(
        f'kube_statefulset_status_observed_generation{{{SHOP},statefulset="s"}}',
        f'kube_statefulset_metadata_generation{{{SHOP},statefulset="s"}}', "1x30", "2x30", "2x30", "20m", STATEFULSET),
    # One of three replicas on the new revision, not moving; quiet: the update revision is the current one.
    "KubeStatefulSetUpdateNotRolledOut": case(
        {f'kube_statefulset_status_current_revision{{{STS_REVISION},revision="r1"}}': "1x40",
         f'kube_statefulset_status_update_revision{{{STS_REVISION},revision="r2"}}': "1x40",
         f"kube_statefulset_replicas{{{STS_REVISION}}}": "3x40", f"kube_statefulset_status_replicas_updated{{{STS_REVISION}}}": "1x40"},
        {f'kube_statefulset_status_current_revision{{{STS_REVISION},revision="r1"}}': "1x40",
         f'kube_statefulset_status_update_revision{{{STS_REVISION},revision="r1"}}': "1x40",
         f"kube_statefulset_replicas{{{STS_REVISION}}}": "3x40", f"kube_statefulset_status_replicas_updated{{{STS_REVISION}}}": "1x40"},
        "30m", STATEFULSET),
    "KubeDaemonSetRolloutStuck": pair(
        f'kube_daemonset_status_updated_number_scheduled{{{SHOP},daemonset="a"}}',
        f'kube_daemonset_status_desired_number_scheduled{{{SHOP},daemonset="a"}}', "1x40", "2x40", "2x40", "30m", DAEMONSET),
    "KubeDaemonSetMisScheduled": gauge(f'kube_daemonset_status_number_misscheduled{{{SHOP},daemonset="a"}}', "1x30", "0x30",
                                       "20m", DAEMONSET),
    "KubeHpaReplicasMismatch": case(
        {f"kube_horizontalpodautoscaler_status_desired_replicas{{{HPA}}}": "4x50",
         f"kube_horizontalpodautoscaler_status_current_replicas{{{HPA}}}": "2x50",
         f"kube_horizontalpodautoscaler_spec_min_replicas{{{HPA}}}": "1x50",
         f"kube_horizontalpodautoscaler_spec_max_replicas{{{HPA}}}": "5x50"},
        {f"kube_horizontalpodautoscaler_status_desired_replicas{{{HPA}}}": "2x50",
         f"kube_horizontalpodautoscaler_status_current_replicas{{{HPA}}}": "2x50",
         f"kube_horizontalpodautoscaler_spec_min_replicas{{{HPA}}}": "1x50",
         f"kube_horizontalpodautoscaler_spec_max_replicas{{{HPA}}}": "5x50"},
        "35m", {"namespace": "shop", "horizontalpodautoscaler": "h"}),
    # Started at time 0, still active at 13 h (threshold 12 h); quiet: no longer active.
    "KubeJobNotCompleted": case({f"kube_job_status_start_time{{{JOB}}}": "0x100", f"kube_job_status_active{{{JOB}}}": "1x100"},
                                {f"kube_job_status_start_time{{{JOB}}}": "0x100", f"kube_job_status_active{{{JOB}}}": "0x100"},
                                "13h", {"namespace": "shop", "job_name": "j"}, interval="10m"),
    # A CronJob's run, active for 70 minutes (threshold 1 h); quiet: the same job, not owned by a CronJob.
    "KubeCronJobRunningLong": case(
        {f"kube_job_status_start_time{{{JOB}}}": "0x80", f"kube_job_status_active{{{JOB}}}": "1x80",
         f'kube_job_owner{{{JOB},owner_kind="CronJob",owner_name="nightly",owner_is_controller="true"}}': "1x80"},
        {f"kube_job_status_start_time{{{JOB}}}": "0x80", f"kube_job_status_active{{{JOB}}}": "1x80",
         f'kube_job_owner{{{JOB},owner_kind="<none>",owner_name="<none>",owner_is_controller="<none>"}}': "1x80"},
        "70m", {"namespace": "shop", "job_name": "j", "owner_name": "nightly"}),
    "KubeCronJobMissedSchedule": case(
        {f'kube_cronjob_next_schedule_time{{{SHOP},cronjob="c"}}': "0x100", f'kube_cronjob_spec_suspend{{{SHOP},cronjob="c"}}': "0x100"},
        {f'kube_cronjob_next_schedule_time{{{SHOP},cronjob="c"}}': "0x100", f'kube_cronjob_spec_suspend{{{SHOP},cronjob="c"}}': "1x100"},
        "80m", {"namespace": "shop", "cronjob": "c"}),
    "KubePersistentVolumeFillingUpPredicted": pair(
        f"kubelet_volume_stats_available_bytes{{{PVC}}}", f"kubelet_volume_stats_capacity_bytes{{{PVC}}}",
        "39-0.1x100", "39x100", "100x100", "75m", CLAIM),
    "KubePersistentVolumeInodesFull": pair(f"kubelet_volume_stats_inodes_free{{{PVC}}}", f"kubelet_volume_stats_inodes{{{PVC}}}",
                                           "2x10", "10x10", "100x10", "5m", CLAIM),
    "KubePersistentVolumeClaimPending": gauge(f'kube_persistentvolumeclaim_status_phase{{{PVC},phase="Pending"}}', "1x30",
                                              "0x30", "20m", {**CLAIM, "phase": "Pending"}),
    "KubePersistentVolumeClaimLost": gauge(f'kube_persistentvolumeclaim_status_phase{{{PVC},phase="Lost"}}', "1x10", "0x10",
                                           "8m", {**CLAIM, "phase": "Lost"}),
    "KubePersistentVolumeErrors": gauge('kube_persistentvolume_status_phase{persistentvolume="pv1",phase="Failed"}', "1x10",
                                        "0x10", "8m", {"persistentvolume": "pv1", "phase": "Failed"}),
    "KubeCPUOvercommit": overcommit("cpu", "core"),
    "KubeMemoryOvercommit": overcommit("memory", "byte"),
    "KubeQuotaAlmostFull": quota(95),
    "KubeQuotaExceeded": quota(110),
    "KubeNodePressure": gauge('kube_node_status_condition{node="n1",condition="MemoryPressure",status="true"}', "1x20",
                              "0x20", "15m", {"node": "n1", "condition": "MemoryPressure", "status": "true"}),
    "KubeNodeUnreachable": gauge('kube_node_spec_taint{node="n1",key="node.kubernetes.io/unreachable",effect="NoSchedule"}',
                                 "1x30", "0x30", "20m", {"node": "n1", "key": "node.kubernetes.io/unreachable",
                                                         "effect": "NoSchedule"}),
    "KubeNodeReadinessFlapping": gauge('kube_node_status_condition{node="n1",condition="Ready",status="true"}',
                                       " ".join("10" * 15), "1x30", "25m", {"node": "n1"}),
    "KubeletTooManyPods": case(
        {f'kube_pod_status_phase{{{SHOP},pod="p1",phase="Running"}}': "1x30", NODE: "1x30",
         'kube_node_status_capacity{node="n1",resource="pods",unit="integer"}': "1x30"},
        {f'kube_pod_status_phase{{{SHOP},pod="p1",phase="Running"}}': "1x30", NODE: "1x30",
         'kube_node_status_capacity{node="n1",resource="pods",unit="integer"}': "10x30"}, "20m", {"node": "n1"}),
    "KubeletDown": gauge(f"up{{{KUBELET}}}", "0x20", "1x20", "20m", KUBELET_LABELS),
    # Every relist slower than 10s: the 99th percentile is the highest finite bucket's bound, 10.
    "KubeletPlegDurationHigh": histogram("kubelet_pleg_relist_duration_seconds", KUBELET,
                                         {"1": 0, "10": 0, "+Inf": 10}, {"1": 10, "10": 10, "+Inf": 10}, "10m",
                                         {"instance": "10.0.0.1:10250", "node": "n1"}),
    "KubeletPodStartUpLatencyHigh": histogram("kubelet_pod_start_duration_seconds", KUBELET,
                                              {"30": 0, "120": 10, "+Inf": 10}, {"30": 10, "120": 10, "+Inf": 10}, "25m",
                                              {"instance": "10.0.0.1:10250", "node": "n1"}),
    "KubeletRuntimeErrors": gauge(f'kubelet_runtime_operations_errors_total{{{KUBELET},operation_type="create_container"}}',
                                  rising(12), rising(1), "25m",
                                  {"instance": "10.0.0.1:10250", "node": "n1", "operation_type": "create_container"}),
    "KubeletClientCertificateExpiration": gauge(f"kubelet_certificate_manager_client_ttl_seconds{{{KUBELET}}}", "86400x10",
                                                "2592000x10", "5m", KUBELET_LABELS),
    "KubeAPIDown": gauge(f'up{{{API},instance="10.0.1.1:443"}}', "0x20", "1x20", "20m", {}),
    "KubeAPIErrorsHigh": errors_ratio("apiserver_request_total", f'{API},verb="GET",resource="pods"', 'code="500"',
                                      'code="200"', {"verb": "GET"}, 10),
    "KubeAPILatencyHigh": histogram("apiserver_request_duration_seconds", f'{API},verb="GET",resource="pods"',
                                    {"1": 0, "5": 10, "+Inf": 10}, {"1": 10, "5": 10, "+Inf": 10}, "25m", {"verb": "GET"}),
    "KubeAggregatedAPIDown": gauge(f'aggregator_unavailable_apiservice{{{API},name="v1beta1.metrics.k8s.io"}}', "1x30",
                                   "0x30", "20m", {"name": "v1beta1.metrics.k8s.io"}),
    "KubeClientErrors": errors_ratio("rest_client_requests_total", f'{MON},job="kube-state-metrics",instance="k"',
                                     'code="500"', 'code="200"',
                                     {"namespace": "monitoring", "job": "kube-state-metrics", "instance": "k"}),
    "KubeStateMetricsListErrors": errors_ratio("kube_state_metrics_list_total", f'{MON},job="kube-state-metrics",resource="pods"',
                                               'result="error"', 'result="success"',
                                               {"namespace": "monitoring", "job": "kube-state-metrics"}),
    "KubeStateMetricsWatchErrors": errors_ratio("kube_state_metrics_watch_total", f'{MON},job="kube-state-metrics",resource="pods"',
                                                'result="error"', 'result="success"',
                                                {"namespace": "monitoring", "job": "kube-state-metrics"}),
}
