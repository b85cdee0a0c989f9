"""Kubernetes alerts from kube-state-metrics (v2.18) and the kubelet: workloads, storage, resources.

Pod alerts skip OpenEMR's namespace where openemr-pods has its own (restarts, readiness, OOM kills,
throttling) and join `kube_pod_info` for the node, so that KubeNodeNotReady inhibits them. The
kubelet, API server and kube-state-metrics' own health are in rules/cluster.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from stackgen.lib.alerts import ON_NODE, Alert, Record

if TYPE_CHECKING:
    from stackgen.config import StackConfig

ACTIVE_PODS = 'max by (namespace, pod) (kube_pod_status_phase{phase=~"Pending|Running"} == 1)'
PULL_FAILURES = "ErrImagePull|ImagePullBackOff"


def _pods(app: str) -> list:
    other = f'namespace!="{app}"'
    per_container = "sum by (namespace, pod, container)"
    sel = f'{other}, container!=""'
    return [
        Alert("KubePodNotReady", f'(sum by (namespace, pod) (kube_pod_status_phase{{{other}, '
              f'phase=~"Pending|Unknown|Failed"}}) > 0) {ON_NODE}', "warning",
              "Pod {{ $labels.namespace }}/{{ $labels.pod }} is not running",
              "Pod {{ $labels.namespace }}/{{ $labels.pod }} on node {{ $labels.node }} has been pending, failed or "
              "unknown for 15 minutes (phases: {{ $value }}).", "15m"),
        Alert("KubePodCrashLooping", f"increase(kube_pod_container_status_restarts_total{{{other}}}[15m]) > $threshold",
              "warning", "Container {{ $labels.namespace }}/{{ $labels.pod }}/{{ $labels.container }} restarts repeatedly",
              "Container {{ $labels.container }} of {{ $labels.namespace }}/{{ $labels.pod }} restarted "
              "{{ $value | humanize }} times in 15 minutes (threshold $threshold).", "0m", 2),
        Alert("KubePodUnschedulable", "sum by (namespace, pod) (kube_pod_status_unschedulable) > 0", "warning",
              "Pod {{ $labels.namespace }}/{{ $labels.pod }} cannot be scheduled",
              "The scheduler finds no node for {{ $labels.namespace }}/{{ $labels.pod }} (unschedulable={{ $value }}) "
              "for 15 minutes: requests, node selectors, taints or volume zones do not fit.", "15m"),
        Alert("KubeContainerWaiting", f'({per_container} (kube_pod_container_status_waiting_reason{{reason!~'
              f'"CrashLoopBackOff|{PULL_FAILURES}"}}) > 0) {ON_NODE}', "warning",
              "Container {{ $labels.namespace }}/{{ $labels.pod }}/{{ $labels.container }} is waiting",
              "Container {{ $labels.container }} of {{ $labels.namespace }}/{{ $labels.pod }} on {{ $labels.node }} "
              "has been waiting to start for an hour ({{ $value }} waiting reason).", "1h"),
        Alert("KubeContainerImagePullFailing", f'({per_container} (kube_pod_container_status_waiting_reason{{reason=~'
              f'"{PULL_FAILURES}"}}) > 0) {ON_NODE}', "warning",
              "Image of {{ $labels.namespace }}/{{ $labels.pod }}/{{ $labels.container }} cannot be pulled",
              "The kubelet on {{ $labels.node }} fails to pull the image of container {{ $labels.container }} of "
              "{{ $labels.namespace }}/{{ $labels.pod }} ({{ $value }}) for 15 minutes.", "15m"),
        Alert("KubeContainerOOMKilled",
              f"increase(kube_pod_container_status_restarts_total{{{other}}}[10m]) > 0 and on (namespace, pod, "
              f'container) kube_pod_container_status_last_terminated_reason{{{other}, reason="OOMKilled"}} == 1',
              "warning", "Container {{ $labels.namespace }}/{{ $labels.pod }}/{{ $labels.container }} was OOM-killed",
              "Container {{ $labels.container }} of {{ $labels.namespace }}/{{ $labels.pod }} ran out of memory "
              "and was restarted ({{ $value | humanize }} restarts in 10 minutes, the last one OOMKilled).", "0m"),
        Alert("CPUThrottlingHigh",
              f"{per_container} (increase(container_cpu_cfs_throttled_periods_total{{{sel}}}[5m])) / "
              f"{per_container} (increase(container_cpu_cfs_periods_total{{{sel}}}[5m])) > $threshold", "info",
              "Container {{ $labels.namespace }}/{{ $labels.pod }}/{{ $labels.container }} is CPU-throttled",
              "{{ $value | humanizePercentage }} of the CPU periods of {{ $labels.namespace }}/{{ $labels.pod }}/"
              "{{ $labels.container }} were throttled (threshold $threshold).", "15m", 0.25, "ratio"),
    ]


def _workloads() -> list:
    deployment, statefulset = "{{ $labels.namespace }}/{{ $labels.deployment }}", "{{ $labels.namespace }}/{{ $labels.statefulset }}"
    daemonset = "{{ $labels.namespace }}/{{ $labels.daemonset }}"
    hpa = "{{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }}"
    return [
        Alert("KubeDeploymentReplicasMismatch",
              "kube_deployment_spec_replicas != kube_deployment_status_replicas_available", "warning",
              f"Deployment {deployment} is not at its desired replicas",
              f"Deployment {deployment} wants {{{{ $value }}}} replicas and has had a different number available for "
              "15 minutes.", "15m"),
        Alert("KubeDeploymentGenerationMismatch",
              "kube_deployment_status_observed_generation != kube_deployment_metadata_generation", "warning",
              f"Deployment {deployment} change is not picked up",
              f"The controller has observed generation {{{{ $value }}}} of deployment {deployment}, not its latest: "
              "the change is not being rolled out.", "15m"),
        Alert("KubeDeploymentRolloutStuck",
              'kube_deployment_status_condition{condition="Progressing", status="false"} == 1', "warning",
              f"Deployment {deployment} rollout is stuck",
              f"Deployment {deployment} reports Progressing=false ({{{{ $labels.reason }}}}, value {{{{ $value }}}}): "
              "its progress deadline passed.", "15m"),
        Alert("KubeStatefulSetReplicasMismatch", "kube_statefulset_status_replicas_ready != kube_statefulset_replicas",
              "warning", f"StatefulSet {statefulset} is not at its desired replicas",
              f"StatefulSet {statefulset} has had {{{{ $value }}}} ready replicas, not the desired count, for 15 "
              "minutes.", "15m"),
        Alert("KubeStatefulSetGenerationMismatch",
              "kube_statefulset_status_observed_generation != kube_statefulset_metadata_generation", "warning",
              f"StatefulSet {statefulset} change is not picked up",
              f"The controller has observed generation {{{{ $value }}}} of statefulset {statefulset}, not its latest.",
              "15m"),
        Alert("KubeStatefulSetUpdateNotRolledOut",
              "(max by (namespace, statefulset) (kube_statefulset_status_current_revision unless "
              "kube_statefulset_status_update_revision) * on (namespace, statefulset) (kube_statefulset_replicas != "
              "kube_statefulset_status_replicas_updated)) and on (namespace, statefulset) "
              "(changes(kube_statefulset_status_replicas_updated[10m]) == 0)", "warning",
              f"StatefulSet {statefulset} update is not rolled out",
              f"StatefulSet {statefulset} runs an old revision on some of its {{{{ $value }}}} replicas and the "
              "update has not moved for 10 minutes (a pod that does not become ready blocks it).", "15m"),
        Alert("KubeDaemonSetNotScheduled", "kube_daemonset_status_desired_number_scheduled - "
              "kube_daemonset_status_number_ready > 0", "warning",
              f"DaemonSet {daemonset} is not ready on {{{{ $value }}}} node(s)",
              f"DaemonSet {daemonset} has no ready pod on {{{{ $value }}}} node(s) (for otebpf and fluent-bit: traces, "
              "metrics or logs of those nodes are missing).", "15m"),
        Alert("KubeDaemonSetRolloutStuck",
              "kube_daemonset_status_updated_number_scheduled != kube_daemonset_status_desired_number_scheduled and "
              "changes(kube_daemonset_status_updated_number_scheduled[10m]) == 0", "warning",
              f"DaemonSet {daemonset} rollout is stuck",
              f"Only {{{{ $value }}}} pods of daemonset {daemonset} run the current template and the rollout has not "
              "moved for 10 minutes.", "15m"),
        Alert("KubeDaemonSetMisScheduled", "kube_daemonset_status_number_misscheduled > 0", "warning",
              f"DaemonSet {daemonset} runs where it should not",
              f"{{{{ $value }}}} pods of daemonset {daemonset} run on nodes its selector or tolerations exclude.", "15m"),
        Alert("KubeHpaReplicasMismatch",
              "(kube_horizontalpodautoscaler_status_desired_replicas != kube_horizontalpodautoscaler_status_current_replicas) "
              "and (kube_horizontalpodautoscaler_status_current_replicas > kube_horizontalpodautoscaler_spec_min_replicas) "
              "and (kube_horizontalpodautoscaler_status_current_replicas < kube_horizontalpodautoscaler_spec_max_replicas) "
              "and changes(kube_horizontalpodautoscaler_status_current_replicas[15m]) == 0", "warning",
              f"HPA {hpa} does not reach its desired replicas",
              f"HPA {hpa} wants {{{{ $value }}}} replicas and has not moved for 15 minutes: pods do not start or the "
              "node budget is reached.", "15m"),
        Alert("KubeHpaMaxedOut", "kube_horizontalpodautoscaler_status_current_replicas == "
              "kube_horizontalpodautoscaler_spec_max_replicas", "warning", f"HPA {hpa} is at its maximum",
              f"HPA {hpa} has run at its maximum of {{{{ $value }}}} replicas for 30 minutes; raise max_replicas or the "
              "node budget.", "30m"),
        Alert("KubeJobFailed", "kube_job_status_failed > 0", "warning",
              "Job {{ $labels.namespace }}/{{ $labels.job_name }} failed",
              "Job {{ $labels.namespace }}/{{ $labels.job_name }} has {{ $value }} failed pod(s).", "15m"),
        Alert("KubeJobNotCompleted", "time() - max by (namespace, job_name) (kube_job_status_start_time) > $threshold "
              "and on (namespace, job_name) kube_job_status_active > 0", "warning",
              "Job {{ $labels.namespace }}/{{ $labels.job_name }} runs for {{ $value | humanizeDuration }}",
              "Job {{ $labels.namespace }}/{{ $labels.job_name }} has been running for {{ $value | humanizeDuration }} "
              "(threshold $threshold).", "0m", 43200, "seconds"),
        Alert("KubeCronJobRunningLong",
              "(time() - max by (namespace, job_name) (kube_job_status_start_time)) * on (namespace, job_name) "
              'group_left (owner_name) max by (namespace, job_name, owner_name) (kube_job_owner{owner_kind="CronJob"}) '
              "> $threshold and on (namespace, job_name) kube_job_status_active > 0", "warning",
              "CronJob {{ $labels.namespace }}/{{ $labels.owner_name }} runs for {{ $value | humanizeDuration }}",
              "Job {{ $labels.job_name }} of cronjob {{ $labels.namespace }}/{{ $labels.owner_name }} has been running "
              "for {{ $value | humanizeDuration }} (threshold $threshold): the next run may overlap or be skipped.",
              "0m", 3600, "seconds"),
        Alert("KubeCronJobMissedSchedule", "time() - kube_cronjob_next_schedule_time > $threshold unless on "
              "(namespace, cronjob) kube_cronjob_spec_suspend == 1", "warning",
              "CronJob {{ $labels.namespace }}/{{ $labels.cronjob }} missed its schedule",
              "CronJob {{ $labels.namespace }}/{{ $labels.cronjob }} should have started {{ $value | humanizeDuration }} "
              "ago (threshold $threshold) and is not suspended.", "15m", 3600, "seconds"),
    ]


def _storage() -> list:
    free = "kubelet_volume_stats_available_bytes / kubelet_volume_stats_capacity_bytes"
    claim = "{{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }}"
    return [
        Alert("KubePersistentVolumeFillingUp", f"{free} < $threshold", "warning",
              f"Volume {claim} is {{{{ $value | humanizePercentage }}}} free",
              f"Volume {claim} has {{{{ $value | humanizePercentage }}}} of its space left (threshold $threshold).",
              "5m", 0.15, "ratio"),
        Alert("KubePersistentVolumeFull", f"{free} < $threshold", "critical", f"Volume {claim} is almost full",
              f"Volume {claim} has {{{{ $value | humanizePercentage }}}} of its space left (threshold $threshold); "
              "writes will fail.", "1m", 0.03, "ratio"),
        Alert("KubePersistentVolumeFillingUpPredicted",
              f"{free} < 0.4 and predict_linear(kubelet_volume_stats_available_bytes[6h], $threshold * 3600) < 0",
              "warning", f"Volume {claim} will fill up within $threshold",
              f"Volume {claim} has {{{{ $value | humanizePercentage }}}} free and, at the rate of the last 6 hours, will "
              "be full within $threshold.", "1h", 96, "hours"),
        Alert("KubePersistentVolumeInodesFull",
              "kubelet_volume_stats_inodes_free / kubelet_volume_stats_inodes < $threshold", "critical",
              f"Volume {claim} is almost out of inodes",
              f"Volume {claim} has {{{{ $value | humanizePercentage }}}} of its inodes left (threshold $threshold).",
              "1m", 0.03, "ratio"),
        Alert("KubePersistentVolumeClaimPending", 'kube_persistentvolumeclaim_status_phase{phase="Pending"} == 1',
              "warning", f"Claim {claim} is not bound",
              f"PersistentVolumeClaim {claim} has been Pending for 15 minutes (phase value {{{{ $value }}}}): no "
              "volume is provisioned for it.", "15m"),
        Alert("KubePersistentVolumeClaimLost", 'kube_persistentvolumeclaim_status_phase{phase="Lost"} == 1',
              "critical", f"Claim {claim} lost its volume",
              f"PersistentVolumeClaim {claim} is Lost (value {{{{ $value }}}}): its volume no longer exists.", "5m"),
        Alert("KubePersistentVolumeErrors", 'kube_persistentvolume_status_phase{phase=~"Failed|Pending"} > 0',
              "critical", "Volume {{ $labels.persistentvolume }} is {{ $labels.phase }}",
              "PersistentVolume {{ $labels.persistentvolume }} is in phase {{ $labels.phase }} (value {{ $value }}).",
              "5m"),
    ]


def _requests_record(resource: str) -> Record:
    return Record(f"namespace_{resource}:kube_pod_container_resource_requests:sum",
                  f'sum by (namespace) (kube_pod_container_resource_requests{{resource="{resource}"}} '
                  f"* on (namespace, pod) group_left () {ACTIVE_PODS})")


def _overcommit(resource: str) -> Alert:
    allocatable = f'kube_node_status_allocatable{{resource="{resource}"}}'
    return Alert(
        f"Kube{'CPU' if resource == 'cpu' else 'Memory'}Overcommit",
        f"sum(namespace_{resource}:kube_pod_container_resource_requests:sum) / (sum({allocatable}) - "
        f"max({allocatable})) > $threshold and count({allocatable}) > 1", "warning",
        f"Pods request more {resource} than the cluster holds without its largest node",
        f"Pods request {{{{ $value | humanizePercentage }}}} of the {resource} that remains when the largest node is "
        "lost (threshold $threshold): a node failure leaves pods pending.", "10m", 1, "ratio")


def _resources() -> list:
    quota = ('kube_resourcequota{type="used"} / ignoring (instance, job, type) (kube_resourcequota{type="hard"} > 0)')
    node = "{{ $labels.node }}"
    return [
        _requests_record("cpu"), _requests_record("memory"), _overcommit("cpu"), _overcommit("memory"),
        Alert("KubeQuotaAlmostFull", f"{quota} > $threshold", "info",
              "Quota {{ $labels.namespace }}/{{ $labels.resourcequota }} is {{ $value | humanizePercentage }} used",
              "{{ $labels.resource }} of quota {{ $labels.namespace }}/{{ $labels.resourcequota }} is "
              "{{ $value | humanizePercentage }} used (threshold $threshold).", "15m", 0.9, "ratio"),
        Alert("KubeQuotaExceeded", f"{quota} > $threshold", "warning",
              "Quota {{ $labels.namespace }}/{{ $labels.resourcequota }} is exceeded",
              "{{ $labels.resource }} of quota {{ $labels.namespace }}/{{ $labels.resourcequota }} is "
              "{{ $value | humanizePercentage }} used (threshold $threshold): new pods are refused.", "15m", 1, "ratio"),
        Alert("KubeNodeNotReady", 'kube_node_status_condition{condition="Ready", status="true"} == 0', "critical",
              f"Node {node} is not ready", f"Node {node} has not been ready for 5 minutes (Ready={{{{ $value }}}}); "
              "its pods are being rescheduled (their alerts are inhibited).", "5m"),
        Alert("KubeNodePressure",
              'kube_node_status_condition{condition=~"MemoryPressure|DiskPressure|PIDPressure", status="true"} == 1',
              "warning", f"Node {node} reports {{{{ $labels.condition }}}}",
              f"Node {node} has had condition {{{{ $labels.condition }}}}={{{{ $value }}}} for 10 minutes: the kubelet "
              "evicts pods.", "10m"),
        Alert("KubeNodeUnreachable",
              'kube_node_spec_taint{key="node.kubernetes.io/unreachable", effect="NoSchedule"} == 1', "warning",
              f"Node {node} is unreachable", f"Node {node} carries the unreachable taint (value {{{{ $value }}}}): the "
              "control plane has lost its kubelet.", "15m"),
        Alert("KubeNodeReadinessFlapping",
              'sum by (node) (changes(kube_node_status_condition{condition="Ready", status="true"}[15m])) > $threshold',
              "warning", f"Node {node} readiness is flapping",
              f"Node {node} changed readiness {{{{ $value }}}} times in 15 minutes (threshold $threshold).", "15m", 2),
        Alert("KubeletTooManyPods",
              'count by (node) ((kube_pod_status_phase{phase="Running"} == 1) * on (namespace, pod) group_left (node) '
              "max by (namespace, pod, node) (kube_pod_info)) / max by (node) "
              '(kube_node_status_capacity{resource="pods"}) > $threshold', "info",
              f"Node {node} runs {{{{ $value | humanizePercentage }}}} of its pod capacity",
              f"Node {node} runs {{{{ $value | humanizePercentage }}}} of the pods it can hold (threshold $threshold).",
              "15m", 0.95, "ratio"),
    ]


def groups(stack: StackConfig) -> dict[str, list]:
    return {"kubernetes-apps": [*_pods(stack.app_namespace), *_workloads()], "kubernetes-storage": _storage(),
            "kubernetes-resources": _resources()}
