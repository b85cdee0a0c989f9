"""Synthetic series shaped like the exporters' real output, for promtool to evaluate dashboard queries.

One small EKS cluster: two nodes, OpenEMR's pods, the stack's pods and a node agent on each node. Every
exporter function writes the series of the metrics it really produces, with the label names of the pinned
version and the target labels the Prometheus Operator attaches (job, namespace, service, pod, container,
endpoint, instance). `honor` follows the ServiceMonitor: with honorLabels the exporter's own labels win,
without it clashing ones become `exported_<name>` as Prometheus does. Values: counters rise steadily,
gauges are constant, histograms put a fixed share of observations in each bucket.
"""
from __future__ import annotations

from dataclasses import dataclass

INTERVAL = "1m"
STEPS = 120
EVAL_TIME = "90m"
# What Grafana substitutes for its built-in variables at a 1m scrape interval over a 1h range.
BUILTINS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "${__range}": "1h"}

NODES = ("ip-10-0-1-10.ec2.internal", "ip-10-0-2-20.ec2.internal")
NODE_IPS = {NODES[0]: "10.0.1.10", NODES[1]: "10.0.2.20"}
ZONES = {NODES[0]: "us-east-1a", NODES[1]: "us-east-1b"}


@dataclass(frozen=True)
class Pod:
    namespace: str
    name: str
    node: str
    owner_kind: str  # of the workload: Deployment, StatefulSet, DaemonSet
    workload: str
    containers: tuple[str, ...]
    ip: str = "10.0.100.1"

    @property
    def owner(self) -> tuple[str, str]:
        """The pod's direct owner, as kube_pod_owner reports it (a Deployment's pods: its ReplicaSet)."""
        if self.owner_kind == "Deployment":
            return "ReplicaSet", self.name.rsplit("-", 1)[0]
        return self.owner_kind, self.workload


def _pods() -> list[Pod]:
    found = [
        Pod("openemr", "openemr-6f7d8c9b5-x2x7k", NODES[0], "Deployment", "openemr", ("openemr", "fluent-bit"), "10.0.1.31"),
        Pod("openemr", "openemr-6f7d8c9b5-q8w4z", NODES[1], "Deployment", "openemr", ("openemr", "fluent-bit"), "10.0.2.32"),
        Pod("monitoring", "prometheus-main-0", NODES[0], "StatefulSet", "prometheus-main", ("prometheus", "config-reloader"), "10.0.1.40"),
        Pod("monitoring", "alertmanager-main-0", NODES[1], "StatefulSet", "alertmanager-main", ("alertmanager", "config-reloader"), "10.0.2.41"),
        Pod("monitoring", "grafana-5b9c7d8f6-abcde", NODES[1], "Deployment", "grafana", ("grafana",), "10.0.2.42"),
        Pod("monitoring", "kube-state-metrics-7c8d9e6f5-fghij", NODES[0], "Deployment", "kube-state-metrics", ("kube-state-metrics",), "10.0.1.43"),
        Pod("monitoring", "loki-0", NODES[0], "StatefulSet", "loki", ("loki",), "10.0.1.44"),
        Pod("monitoring", "tempo-0", NODES[1], "StatefulSet", "tempo", ("tempo",), "10.0.2.45"),
        Pod("monitoring", "mimir-0", NODES[0], "StatefulSet", "mimir", ("mimir",), "10.0.1.46"),
        Pod("kube-system", "coredns-5d78c9869d-klmno", NODES[1], "Deployment", "coredns", ("coredns",), "10.0.2.47"),
    ]
    # ECK's StatefulSet of the `default` nodeSet (hospital-elk), on alternating nodes.
    found += [Pod("monitoring", f"elasticsearch-es-default-{i}", NODES[i % 2], "StatefulSet", "elasticsearch-es-default",
                  ("elasticsearch",), f"10.0.{1 + i % 2}.{50 + i}") for i in range(3)]
    for index, node in enumerate(NODES):
        for agent in ("node-exporter", "otebpf", "fluent-bit"):
            found.append(Pod("monitoring-agents", f"{agent}-{'ab'[index]}{index}x9z", node, "DaemonSet", agent,
                             (agent,), NODE_IPS[node]))
    return found


PODS = _pods()


def pod(workload: str, namespace: str | None = None) -> Pod:
    return next(p for p in PODS if p.workload == workload and namespace in (None, p.namespace))


class Series(dict):
    """series text -> promtool values."""

    def add(self, name: str, labels: dict[str, str], values: str) -> None:
        inner = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()) if value != "")
        self[f"{name}{{{inner}}}"] = values


def counter(per_minute: float = 10) -> str:
    return f"0+{per_minute}x{STEPS}"


def gauge(value: float) -> str:
    return f"{value}x{STEPS}"


def scrape(target: dict[str, str], labels: dict[str, str], honor: bool = False) -> dict[str, str]:
    """The labels Prometheus stores: the exporter's, merged with the target's as honorLabels decides."""
    if honor:
        return {**target, **labels}
    merged = dict(target)
    for key, value in labels.items():
        merged[f"exported_{key}" if key in target else key] = value
    return merged


def target(p: Pod, job: str, endpoint: str, port: int, container: str | None = None,
           service: str | None = None, instance: str | None = None) -> dict[str, str]:
    """A ServiceMonitor target (job = the Service's name); `service=""` for a PodMonitor."""
    labels = {"job": job, "namespace": p.namespace, "pod": p.name, "container": container or p.containers[0],
              "endpoint": endpoint, "instance": instance or f"{p.ip}:{port}"}
    if service != "":
        labels["service"] = service or job
    return labels


BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10")


def histogram(s: Series, name: str, labels: dict[str, str], per_minute: float = 100,
              buckets: tuple[str, ...] = BUCKETS) -> None:
    """Observations spread evenly over the buckets, the slowest tenth above the last bound."""
    count = len(buckets)
    for index, bound in enumerate(buckets):
        s.add(f"{name}_bucket", {**labels, "le": bound}, counter(per_minute * 0.9 * (index + 1) / count))
    s.add(f"{name}_bucket", {**labels, "le": "+Inf"}, counter(per_minute))
    s.add(f"{name}_sum", labels, counter(per_minute * 0.4))
    s.add(f"{name}_count", labels, counter(per_minute))


def up(s: Series, labels: dict[str, str]) -> None:
    s.add("up", labels, gauge(1))
    s.add("scrape_duration_seconds", labels, gauge(0.05))
    s.add("scrape_samples_scraped", labels, gauge(800))


# --- Kubernetes: kube-state-metrics, the kubelet with cAdvisor, node-exporter ---------------------------

def kube_state_metrics(s: Series) -> None:
    ksm = pod("kube-state-metrics")
    t = target(ksm, "kube-state-metrics", "http", 8080)
    up(s, t)

    def add(name, labels, values):
        s.add(name, scrape(t, labels, honor=True), values)

    for p in PODS:
        obj = {"namespace": p.namespace, "pod": p.name, "uid": f"uid-{p.name}"}
        add("kube_pod_info", {**obj, "node": p.node, "host_ip": NODE_IPS[p.node], "pod_ip": p.ip,
                              "created_by_kind": p.owner[0], "created_by_name": p.owner[1],
                              "priority_class": "", "host_network": "false"}, gauge(1))
        add("kube_pod_owner", {**obj, "owner_kind": p.owner[0], "owner_name": p.owner[1],
                               "owner_is_controller": "true"}, gauge(1))
        add("kube_pod_start_time", obj, gauge(1_700_000_000))
        for phase in ("Pending", "Running", "Succeeded", "Failed", "Unknown"):
            add("kube_pod_status_phase", {**obj, "phase": phase}, gauge(int(phase == "Running")))
        for condition in ("true", "false", "unknown"):
            add("kube_pod_status_ready", {**obj, "condition": condition}, gauge(int(condition == "true")))
        for container in p.containers:
            c = {**obj, "container": container}
            add("kube_pod_container_info", {**c, "image": f"example/{container}:1", "image_id": "",
                                            "image_spec": f"example/{container}:1", "container_id": f"containerd://{container}"},
                gauge(1))
            add("kube_pod_container_status_ready", c, gauge(1))
            add("kube_pod_container_status_restarts_total", c, counter(0.05))
            add("kube_pod_container_status_waiting_reason", {**c, "reason": "CrashLoopBackOff"}, gauge(0))
            add("kube_pod_container_status_last_terminated_reason", {**c, "reason": "OOMKilled"}, gauge(0))
            for kind, (resource, unit, value) in {"requests": ("cpu", "core", 0.1), "limits": ("cpu", "core", 0.5)}.items():
                add(f"kube_pod_container_resource_{kind}", {**c, "node": p.node, "resource": resource, "unit": unit},
                    gauge(value))
                add(f"kube_pod_container_resource_{kind}", {**c, "node": p.node, "resource": "memory", "unit": "byte"},
                    gauge(268435456 * (2 if kind == "limits" else 1)))
    for p in {(p.namespace, p.owner[1]): p for p in PODS if p.owner[0] == "ReplicaSet"}.values():
        add("kube_replicaset_owner", {"namespace": p.namespace, "replicaset": p.owner[1], "owner_kind": "Deployment",
                                      "owner_name": p.workload, "owner_is_controller": "true"}, gauge(1))
    workloads = {(p.namespace, p.owner_kind, p.workload): p for p in PODS}
    for namespace, kind, name in workloads:
        replicas = sum(1 for p in PODS if (p.namespace, p.owner_kind, p.workload) == (namespace, kind, name))
        if kind == "Deployment":
            obj = {"namespace": namespace, "deployment": name}
            for metric in ("spec_replicas", "status_replicas", "status_replicas_available", "status_replicas_updated"):
                add(f"kube_deployment_{metric}", obj, gauge(replicas))
            add("kube_deployment_status_replicas_unavailable", obj, gauge(0))
            add("kube_deployment_status_observed_generation", obj, gauge(3))
            add("kube_deployment_metadata_generation", obj, gauge(3))
        elif kind == "StatefulSet":
            obj = {"namespace": namespace, "statefulset": name}
            for metric in ("replicas", "status_replicas", "status_replicas_ready", "status_replicas_current",
                           "status_replicas_updated"):
                add(f"kube_statefulset_{metric}", obj, gauge(replicas))
            add("kube_statefulset_status_observed_generation", obj, gauge(2))
            add("kube_statefulset_metadata_generation", obj, gauge(2))
        else:
            obj = {"namespace": namespace, "daemonset": name}
            for metric in ("desired_number_scheduled", "current_number_scheduled", "number_ready", "number_available",
                           "updated_number_scheduled"):
                add(f"kube_daemonset_status_{metric}", obj, gauge(replicas))
            add("kube_daemonset_status_number_unavailable", obj, gauge(0))
            add("kube_daemonset_status_number_misscheduled", obj, gauge(0))
            add("kube_daemonset_metadata_generation", obj, gauge(1))
    for node in NODES:
        n = {"node": node}
        add("kube_node_info", {**n, "internal_ip": NODE_IPS[node], "kubelet_version": "v1.33.5-eks-1",
                               "os_image": "Bottlerocket OS", "container_runtime_version": "containerd://1.7",
                               "kernel_version": "6.1", "provider_id": f"aws:///{ZONES[node]}/i-0{node[3]}"}, gauge(1))
        for condition in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure"):
            for status in ("true", "false", "unknown"):
                add("kube_node_status_condition", {**n, "condition": condition, "status": status},
                    gauge(int((condition == "Ready") == (status == "true") and status != "unknown")))
        add("kube_node_spec_unschedulable", n, gauge(0))
        for metric in ("allocatable", "capacity"):
            add(f"kube_node_status_{metric}", {**n, "resource": "cpu", "unit": "core"}, gauge(2))
            add(f"kube_node_status_{metric}", {**n, "resource": "memory", "unit": "byte"}, gauge(8 * 2**30))
            add(f"kube_node_status_{metric}", {**n, "resource": "pods", "unit": "integer"}, gauge(58))
    for namespace in sorted({p.namespace for p in PODS}):
        add("kube_namespace_status_phase", {"namespace": namespace, "phase": "Active"}, gauge(1))
    for claim, namespace, size in (("data-loki-0", "monitoring", 50), ("data-prometheus-main-0", "monitoring", 100)):
        obj = {"namespace": namespace, "persistentvolumeclaim": claim}
        add("kube_persistentvolumeclaim_info", {**obj, "storageclass": "encrypted-gp3", "volumename": f"pvc-{claim}"},
            gauge(1))
        for phase in ("Bound", "Pending", "Lost"):
            add("kube_persistentvolumeclaim_status_phase", {**obj, "phase": phase}, gauge(int(phase == "Bound")))
        add("kube_persistentvolumeclaim_resource_requests_storage_bytes", obj, gauge(size * 2**30))
    for hpa, namespace in (("openemr", "openemr"),):
        obj = {"namespace": namespace, "horizontalpodautoscaler": hpa}
        add("kube_horizontalpodautoscaler_spec_min_replicas", obj, gauge(2))
        add("kube_horizontalpodautoscaler_spec_max_replicas", obj, gauge(6))
        add("kube_horizontalpodautoscaler_status_current_replicas", obj, gauge(2))
        add("kube_horizontalpodautoscaler_status_desired_replicas", obj, gauge(2))


def kubelet(s: Series) -> None:
    """The kubelet's /metrics and /metrics/cadvisor through the operator's kube-system/kubelet Service
    (honorLabels; the operator adds `node` for endpoints whose target is a Node)."""
    for node in NODES:
        base = {"job": "kubelet", "namespace": "kube-system", "service": "kubelet", "endpoint": "https-metrics",
                "instance": f"{NODE_IPS[node]}:10250", "node": node}
        metrics, cadvisor = {**base, "metrics_path": "/metrics"}, {**base, "metrics_path": "/metrics/cadvisor"}
        up(s, metrics)
        up(s, cadvisor)
        on_node = [p for p in PODS if p.node == node]
        s.add("kubelet_node_name", {**metrics, "node": node}, gauge(1))
        s.add("kubelet_running_pods", metrics, gauge(len(on_node)))
        s.add("kubelet_running_containers", {**metrics, "container_state": "running"},
              gauge(sum(len(p.containers) for p in on_node)))
        s.add("kubelet_runtime_operations_errors_total", {**metrics, "operation_type": "pull_image"}, counter(0.01))
        s.add("kubelet_certificate_manager_client_ttl_seconds", metrics, gauge(86400 * 300))
        histogram(s, "kubelet_pleg_relist_duration_seconds", metrics, 60)
        histogram(s, "kubelet_pod_start_duration_seconds", metrics, 1)
        histogram(s, "storage_operation_duration_seconds",
                  {**metrics, "operation_name": "volume_mount", "status": "success", "volume_plugin": "kubernetes.io/csi:ebs.csi.aws.com", "migrated": "false"}, 1)
        s.add("machine_cpu_cores", cadvisor, gauge(2))
        s.add("machine_memory_bytes", cadvisor, gauge(8 * 2**30))
        for p in on_node:
            pod_labels = {"namespace": p.namespace, "pod": p.name}
            pod_id = f"/kubepods/burstable/pod{p.name}"
            # The pod-level cgroup (container="") and the pause container ("POD") exist too.
            s.add("container_cpu_usage_seconds_total", scrape(cadvisor, {**pod_labels, "container": "", "id": pod_id,
                                                                       "cpu": "total"}, True), counter(6))
            for interface in ("eth0",):
                net = scrape(cadvisor, {**pod_labels, "container": "", "id": pod_id, "image": "", "name": "",
                                        "interface": interface}, True)
                for direction in ("receive", "transmit"):
                    s.add(f"container_network_{direction}_bytes_total", net, counter(60000))
                    s.add(f"container_network_{direction}_packets_total", net, counter(600))
                    s.add(f"container_network_{direction}_packets_dropped_total", net, counter(0.5))
                    s.add(f"container_network_{direction}_errors_total", net, counter(0.1))
            for container in p.containers:
                c = scrape(cadvisor, {**pod_labels, "container": container, "id": f"{pod_id}/{container}",
                                      "image": f"example/{container}:1", "name": container}, True)
                s.add("container_cpu_usage_seconds_total", {**c, "cpu": "total"}, counter(3))
                s.add("container_cpu_cfs_periods_total", c, counter(600))
                s.add("container_cpu_cfs_throttled_periods_total", c, counter(30))
                s.add("container_cpu_cfs_throttled_seconds_total", c, counter(0.5))
                for metric, value in (("working_set_bytes", 200e6), ("rss", 150e6), ("usage_bytes", 260e6),
                                      ("cache", 60e6), ("swap", 0)):
                    s.add(f"container_memory_{metric}", c, gauge(value))
                s.add("container_oom_events_total", c, gauge(0))
                s.add("container_fs_reads_bytes_total", {**c, "device": "/dev/nvme0n1"}, counter(1e5))
                s.add("container_fs_writes_bytes_total", {**c, "device": "/dev/nvme0n1"}, counter(3e5))
                s.add("container_fs_usage_bytes", {**c, "device": "/dev/nvme0n1"}, gauge(5e7))
                s.add("container_spec_memory_limit_bytes", c, gauge(536870912))
                s.add("container_spec_cpu_quota", c, gauge(50000))
                s.add("container_spec_cpu_period", c, gauge(100000))
                s.add("container_last_seen", c, gauge(1_700_000_000))
                s.add("container_start_time_seconds", c, gauge(1_699_000_000))
        for claim, namespace in (("data-loki-0", "monitoring"), ("data-prometheus-main-0", "monitoring")):
            if claim.endswith("-0") and node == NODES[0]:
                volume = {**metrics, "namespace": namespace, "persistentvolumeclaim": claim}
                s.add("kubelet_volume_stats_capacity_bytes", volume, gauge(50 * 2**30))
                s.add("kubelet_volume_stats_available_bytes", volume, gauge(30 * 2**30))
                s.add("kubelet_volume_stats_used_bytes", volume, gauge(20 * 2**30))
                s.add("kubelet_volume_stats_inodes", volume, gauge(3_000_000))
                s.add("kubelet_volume_stats_inodes_free", volume, gauge(2_900_000))
                s.add("kubelet_volume_stats_inodes_used", volume, gauge(100_000))


def node_exporter(s: Series) -> None:
    """node-exporter through its ServiceMonitor, `instance` relabelled to the node's name."""
    for node in NODES:
        agent = next(p for p in PODS if p.workload == "node-exporter" and p.node == node)
        t = target(agent, "node-exporter", "metrics", 9100, instance=node)
        up(s, t)
        s.add("node_uname_info", {**t, "nodename": node, "release": "6.1.0", "machine": "x86_64", "sysname": "Linux",
                                  "version": "#1 SMP", "domainname": "(none)"}, gauge(1))
        s.add("node_boot_time_seconds", t, gauge(1_699_000_000))
        s.add("node_time_seconds", t, f"1700000000+60x{STEPS}")
        for cpu in ("0", "1"):
            for mode, rate in (("idle", 40), ("user", 12), ("system", 5), ("iowait", 1), ("steal", 0.5),
                               ("irq", 0.2), ("softirq", 0.3), ("nice", 0)):
                s.add("node_cpu_seconds_total", {**t, "cpu": cpu, "mode": mode}, counter(rate * 60 / 59))
        for name, value in (("load1", 0.8), ("load5", 0.7), ("load15", 0.6), ("procs_running", 3),
                            ("procs_blocked", 0)):
            s.add(f"node_{name}", t, gauge(value))
        for name, value in (("MemTotal", 8 * 2**30), ("MemAvailable", 5 * 2**30), ("MemFree", 2 * 2**30),
                            ("Buffers", 2**28), ("Cached", 2**30), ("SwapTotal", 0), ("SwapFree", 0)):
            s.add(f"node_memory_{name}_bytes", t, gauge(value))
        s.add("node_vmstat_pgmajfault", t, counter(5))
        s.add("node_vmstat_oom_kill", t, gauge(0))
        fs = {**t, "device": "/dev/nvme0n1p1", "fstype": "xfs", "mountpoint": "/"}
        for name, value in (("avail_bytes", 60e9), ("free_bytes", 62e9), ("size_bytes", 100e9),
                            ("files", 5e7), ("files_free", 4.9e7), ("readonly", 0), ("device_error", 0)):
            s.add(f"node_filesystem_{name}", fs, gauge(value))
        disk = {**t, "device": "nvme0n1"}
        for name, rate in (("io_time_seconds_total", 6), ("io_time_weighted_seconds_total", 9),
                           ("read_bytes_total", 6e6), ("written_bytes_total", 1.2e7),
                           ("reads_completed_total", 600), ("writes_completed_total", 1200)):
            s.add(f"node_disk_{name}", disk, counter(rate))
        net = {**t, "device": "eth0"}
        s.add("node_network_up", net, gauge(1))
        for name, rate in (("receive_bytes_total", 6e6), ("transmit_bytes_total", 3e6), ("receive_errs_total", 0.1),
                           ("transmit_errs_total", 0.1), ("receive_drop_total", 0.2), ("transmit_drop_total", 0.1)):
            s.add(f"node_network_{name}", net, counter(rate))
        for name, value in (("nf_conntrack_entries", 2000), ("nf_conntrack_entries_limit", 262144),
                            ("filefd_allocated", 3000), ("filefd_maximum", 9e6), ("timex_offset_seconds", 0.001),
                            ("timex_sync_status", 1), ("timex_maxerror_seconds", 0.01), ("textfile_scrape_error", 0)):
            s.add(f"node_{name}", t, gauge(value))
        s.add("node_context_switches_total", t, counter(60000))
        for resource in ("cpu", "memory", "io"):
            s.add(f"node_pressure_{resource}_waiting_seconds_total", t, counter(0.6))


EXPORTERS = [kube_state_metrics, kubelet, node_exporter]


def all_series() -> Series:
    import synthetic_elasticsearch
    import synthetic_openemr
    import synthetic_stack
    s = Series()
    for exporter in (EXPORTERS + synthetic_stack.EXPORTERS + synthetic_elasticsearch.EXPORTERS
                     + synthetic_openemr.EXPORTERS):
        exporter(s)
    return s
