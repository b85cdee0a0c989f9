"""Kubernetes compute resources (cluster, namespace by pod and by workload, node, pod, workload), persistent
volumes and the kubelet, from kube-state-metrics and the kubelet's cAdvisor. Adapted from the
kubernetes-mixin to EKS: no scheduler, controller-manager, etcd or kube-proxy, which EKS does not expose.
"""
from __future__ import annotations

from stackgen.dashboards.panels import (
    CLUSTER,
    KUBERNETES,
    Board,
    Row,
    Variable,
    link_to,
    namespace_var,
    prom,
    stat,
    table,
    timeseries,
)

CADVISOR = f'{CLUSTER}, job="kubelet", metrics_path="/metrics/cadvisor", container!=""'
KSM = f'{CLUSTER}, job="kube-state-metrics"'
KUBELET = f'{CLUSTER}, job="kubelet", metrics_path="/metrics"'
NS = 'namespace="$namespace"'
ANY_NS = 'namespace!=""'
NODE = 'node="$node"'
SELECTED = ('label_replace(label_replace(vector(1), "workload", "$workload", "", ""), '
            '"workload_type", "$type", "", "")')
TAGS = ("kubernetes",)
WORKLOAD_TYPES = ("deployment", "statefulset", "daemonset")


def cpu_usage(selector: str) -> str:
    return f"rate(container_cpu_usage_seconds_total{{{CADVISOR}, {selector}}}[$__rate_interval])"


def memory(selector: str) -> str:
    return f"container_memory_working_set_bytes{{{CADVISOR}, {selector}}}"


def resource(kind: str, name: str, selector: str) -> str:
    """Requests or limits (`kind`) of `name` (cpu | memory) of running containers."""
    return f'kube_pod_container_resource_{kind}{{{KSM}, resource="{name}", {selector}}}'


def pod_workload(namespace_selector: str) -> str:
    """namespace, pod -> workload, workload_type: a Deployment's pods through their ReplicaSet's owner."""
    owner = f"kube_pod_owner{{{KSM}, {namespace_selector}"
    deployments = (
        f'label_replace(label_replace(max by (namespace, pod, owner_name) ({owner}, owner_kind="ReplicaSet"}}), '
        f'"replicaset", "$1", "owner_name", "(.*)") * on (namespace, replicaset) group_left (workload) '
        f'max by (namespace, replicaset, workload) (label_replace(kube_replicaset_owner{{{KSM}, {namespace_selector}, '
        f'owner_kind="Deployment"}}, "workload", "$1", "owner_name", "(.*)")), "workload_type", "deployment", "", "")')
    others = [f'label_replace(label_replace(max by (namespace, pod, owner_name) ({owner}, owner_kind="{kind}"}}), '
              f'"workload", "$1", "owner_name", "(.*)"), "workload_type", "{kind.lower()}", "", "")'
              for kind in ("StatefulSet", "DaemonSet")]
    return f"max by (namespace, pod, workload, workload_type) ({' or '.join([deployments, *others])})"


def by_workload(expr: str, namespace_selector: str, selected: bool = False) -> str:
    """Per-pod `expr` summed by workload (`selected`: only the workload the variables name)."""
    mapping = pod_workload(namespace_selector)
    if selected:
        mapping = f"({mapping} and on (workload, workload_type) {SELECTED})"
    return (f"sum by (workload, workload_type) (sum by (namespace, pod) ({expr}) * on (namespace, pod) "
            f"group_left (workload, workload_type) {mapping})")


def ratio(used: str, total: str) -> str:
    return f"sum({used}) / sum({total})"


def _quota(title: str, description: str, usage: str, name: str, unit: str = ""):
    """Per namespace: what is used of `name` (cpu | memory), requested and limited; a row opens its pods."""
    per_namespace = [usage, resource("requests", name, ANY_NS), resource("limits", name, ANY_NS)]
    return table(title, description, *(prom(f"sum by (namespace) ({expr})", instant=True) for expr in per_namespace),
                 unit=unit,
                 links=[("Pods of this namespace", link_to("k8s-namespace-pods", namespace="${__data.fields.namespace}"))])


def cluster() -> Board:
    allocatable = 'kube_node_status_allocatable{%s, resource="%s"}'
    return Board(
        "k8s-cluster", "Kubernetes / Compute resources / Cluster", KUBERNETES,
        "CPU and memory of the whole cluster: use against capacity, and what requests and limits commit.",
        [
            stat("CPU utilisation", "Share of all nodes' CPU time spent not idle.",
                 prom(f'1 - avg(rate(node_cpu_seconds_total{{{CLUSTER}, job="node-exporter", mode="idle"}}'
                      '[$__rate_interval]))'), unit="percentunit", width=4),
            stat("CPU requests commitment", "CPU requested by pods over allocatable CPU: above 100% pods stay Pending.",
                 prom(ratio(resource("requests", "cpu", 'namespace!=""'), allocatable % (KSM, "cpu"))),
                 unit="percentunit", width=4),
            stat("CPU limits commitment", "CPU limits over allocatable CPU: how far the nodes are overcommitted.",
                 prom(ratio(resource("limits", "cpu", 'namespace!=""'), allocatable % (KSM, "cpu"))),
                 unit="percentunit", width=4),
            stat("Memory utilisation", "Share of all nodes' memory in use (not available).",
                 prom(f'1 - sum(node_memory_MemAvailable_bytes{{{CLUSTER}, job="node-exporter"}}) / '
                      f'sum(node_memory_MemTotal_bytes{{{CLUSTER}, job="node-exporter"}})'), unit="percentunit", width=4),
            stat("Memory requests commitment", "Memory requested by pods over allocatable memory.",
                 prom(ratio(resource("requests", "memory", 'namespace!=""'), allocatable % (KSM, "memory"))),
                 unit="percentunit", width=4),
            stat("Memory limits commitment", "Memory limits over allocatable memory: above 100% the OOM killer decides.",
                 prom(ratio(resource("limits", "memory", 'namespace!=""'), allocatable % (KSM, "memory"))),
                 unit="percentunit", width=4),
            Row("CPU"),
            timeseries("CPU usage by namespace", "Cores used by the containers of each namespace.",
                       prom(f"sum by (namespace) ({cpu_usage(ANY_NS)})", "{{namespace}}"),
                       unit="short", width=24, stack=True),
            _quota("CPU quota by namespace", "Usage, requests and limits per namespace; a namespace opens its pods.",
                   cpu_usage(ANY_NS), "cpu"),
            Row("Memory"),
            timeseries("Memory usage by namespace", "Working set (what the OOM killer counts) of each namespace.",
                       prom(f"sum by (namespace) ({memory(ANY_NS)})", "{{namespace}}"),
                       unit="bytes", width=24, stack=True),
            _quota("Memory quota by namespace", "Working set, requests and limits per namespace.", memory(ANY_NS),
                   "memory", unit="bytes"),
        ],
        links=["k8s-namespace-pods", "k8s-namespace-workloads", "nodes"], tags=TAGS)


def namespace_pods(app_namespace: str) -> Board:
    return Board(
        "k8s-namespace-pods", "Kubernetes / Compute resources / Namespace (pods)", KUBERNETES,
        "CPU, memory and throttling of each pod in a namespace, against its requests and limits.",
        [
            timeseries("CPU usage by pod", "Cores used by each pod of the namespace.",
                       prom(f"sum by (pod) ({cpu_usage(NS)})", "{{pod}}"),
                       links=[("Pod", link_to("k8s-pod", namespace="$namespace", pod="${__field.labels.pod}"))]),
            timeseries("CPU throttling by pod", "Share of CFS periods in which the pod's containers were throttled.",
                       prom(f"sum by (pod) (rate(container_cpu_cfs_throttled_periods_total{{{CADVISOR}, {NS}}}"
                            f"[$__rate_interval])) / sum by (pod) (rate(container_cpu_cfs_periods_total{{{CADVISOR}, "
                            f"{NS}}}[$__rate_interval]))", "{{pod}}"), unit="percentunit"),
            timeseries("Memory usage by pod", "Working set of each pod of the namespace.",
                       prom(f"sum by (pod) ({memory(NS)})", "{{pod}}"), unit="bytes"),
            timeseries("Memory usage against limits", "Working set over the memory limit, per pod: at 100% it is OOM-killed.",
                       prom(f"sum by (pod) ({memory(NS)}) / sum by (pod) ({resource('limits', 'memory', NS)})", "{{pod}}"),
                       unit="percentunit"),
            table("Pods", "CPU used and requested, memory used and requested, per pod; a pod opens its dashboard.",
                  prom(f"sum by (pod) ({cpu_usage(NS)})", instant=True),
                  prom(f"sum by (pod) ({resource('requests', 'cpu', NS)})", instant=True),
                  prom(f"sum by (pod) ({memory(NS)})", instant=True),
                  prom(f"sum by (pod) ({resource('requests', 'memory', NS)})", instant=True),
                  links=[("Pod", link_to("k8s-pod", namespace="$namespace", pod="${__data.fields.pod}"))]),
        ],
        [namespace_var(app_namespace)], links=["k8s-cluster", "k8s-namespace-workloads", "k8s-pod"], tags=TAGS)


def namespace_workloads(app_namespace: str) -> Board:
    return Board(
        "k8s-namespace-workloads", "Kubernetes / Compute resources / Namespace (workloads)", KUBERNETES,
        "CPU and memory of a namespace summed by Deployment, StatefulSet and DaemonSet.",
        [
            timeseries("CPU usage by workload", "Cores used by the pods of each workload.",
                       prom(by_workload(cpu_usage(NS), NS), "{{workload}} ({{workload_type}})"), stack=True,
                       links=[("Workload", link_to("k8s-workload", namespace="$namespace",
                                                   type="${__field.labels.workload_type}",
                                                   workload="${__field.labels.workload}"))]),
            timeseries("Memory usage by workload", "Working set of the pods of each workload.",
                       prom(by_workload(memory(NS), NS), "{{workload}} ({{workload_type}})"), unit="bytes", stack=True),
            table("Workloads", "Pods running, CPU and memory used, per workload.",
                  prom(by_workload(f'kube_pod_status_phase{{{KSM}, {NS}, phase="Running"}}', NS), instant=True),
                  prom(by_workload(cpu_usage(NS), NS), instant=True),
                  prom(by_workload(memory(NS), NS), instant=True),
                  links=[("Workload", link_to("k8s-workload", namespace="$namespace",
                                              type="${__data.fields.workload_type}",
                                              workload="${__data.fields.workload}"))]),
        ],
        [namespace_var(app_namespace)], links=["k8s-namespace-pods", "k8s-workload"], tags=TAGS)


def workload(app_namespace: str, deployment: str) -> Board:
    return Board(
        "k8s-workload", "Kubernetes / Compute resources / Workload", KUBERNETES,
        "One Deployment, StatefulSet or DaemonSet: its replicas and the CPU and memory of each of its pods.",
        [
            stat("Pods running", "Pods of the workload in phase Running.",
                 prom(by_workload(f'kube_pod_status_phase{{{KSM}, {NS}, phase="Running"}}', NS, True))),
            stat("Containers restarting", "Container restarts of the workload over the last hour.",
                 prom(by_workload(f"increase(kube_pod_container_status_restarts_total{{{KSM}, {NS}}}[1h])", NS,
                                  True))),
            stat("CPU used", "Cores used by the workload's pods.", prom(by_workload(cpu_usage(NS), NS, True))),
            stat("Memory used", "Working set of the workload's pods.",
                 prom(by_workload(memory(NS), NS, True)), unit="bytes"),
            timeseries("CPU usage by pod", "Cores used by each pod of the workload.",
                       prom(_of_workload(f"sum by (namespace, pod) ({cpu_usage(NS)})"), "{{pod}}"),
                       links=[("Pod", link_to("k8s-pod", namespace="$namespace", pod="${__field.labels.pod}"))]),
            timeseries("Memory usage by pod", "Working set of each pod of the workload.",
                       prom(_of_workload(f"sum by (namespace, pod) ({memory(NS)})"), "{{pod}}"), unit="bytes"),
        ],
        [namespace_var(app_namespace),
         Variable("type", "Type", "", WORKLOAD_TYPES[0], options=WORKLOAD_TYPES),
         Variable("workload", "Workload", f'label_values(kube_${{type}}_metadata_generation{{{KSM}, {NS}}}, $type)',
                  deployment)],
        links=["k8s-namespace-workloads", "k8s-pod"], tags=TAGS)


def _of_workload(per_pod: str) -> str:
    return (f"{per_pod} * on (namespace, pod) group_left () max by (namespace, pod) ({pod_workload(NS)} "
            f"and on (workload, workload_type) {SELECTED})")


def node_pods() -> Board:
    on_node = 'on (namespace, pod) group_left () max by (namespace, pod) (kube_pod_info{%s, node="$node"})' % KSM
    return Board(
        "k8s-node-pods", "Kubernetes / Compute resources / Node (pods)", KUBERNETES,
        "The pods on one node: their CPU and memory, and what they request of the node's allocatable.",
        [
            stat("Pods on the node", "Pods the kubelet runs, against the node's pod capacity.",
                 prom(f'sum(kubelet_running_pods{{{KUBELET}, node="$node"}})'), width=6),
            stat("CPU requested", "CPU requested by the node's pods over its allocatable CPU.",
                 prom(f'sum({resource("requests", "cpu", NODE)}) / '
                      f'sum(kube_node_status_allocatable{{{KSM}, node="$node", resource="cpu"}})'),
                 unit="percentunit", width=6),
            stat("Memory requested", "Memory requested by the node's pods over its allocatable memory.",
                 prom(f'sum({resource("requests", "memory", NODE)}) / '
                      f'sum(kube_node_status_allocatable{{{KSM}, node="$node", resource="memory"}})'),
                 unit="percentunit", width=6),
            stat("Node ready", "1 while the node reports Ready.",
                 prom(f'max(kube_node_status_condition{{{KSM}, node="$node", condition="Ready", status="true"}})'),
                 width=6),
            timeseries("CPU usage by pod", "Cores used by each pod on the node.",
                       prom(f'sum by (namespace, pod) ({cpu_usage(NODE)})', "{{namespace}}/{{pod}}"),
                       links=[("Pod", link_to("k8s-pod", namespace="${__field.labels.namespace}",
                                              pod="${__field.labels.pod}"))]),
            timeseries("Memory usage by pod", "Working set of each pod on the node.",
                       prom(f'sum by (namespace, pod) ({memory(NODE)}) * {on_node}',
                            "{{namespace}}/{{pod}}"), unit="bytes"),
        ],
        [Variable("node", "Node", f"label_values(kube_node_info{{{KSM}}}, node)", "")],
        links=["k8s-cluster", "nodes", "k8s-pod"], tags=TAGS)


def pod(app_namespace: str) -> Board:
    pod_selector = f'{NS}, pod="$pod"'
    return Board(
        "k8s-pod", "Kubernetes / Compute resources / Pod", KUBERNETES,
        "One pod: CPU and memory of each container against requests and limits, throttling, restarts and I/O.",
        [
            timeseries("CPU usage by container", "Cores used by each container, with its request and limit.",
                       prom(f"sum by (container) ({cpu_usage(pod_selector)})", "{{container}}"),
                       prom(f"sum by (container) ({resource('requests', 'cpu', pod_selector)})", "{{container}} request"),
                       prom(f"sum by (container) ({resource('limits', 'cpu', pod_selector)})", "{{container}} limit")),
            timeseries("CPU throttling", "Share of CFS periods in which each container was throttled.",
                       prom(f"sum by (container) (rate(container_cpu_cfs_throttled_periods_total{{{CADVISOR}, "
                            f"{pod_selector}}}[$__rate_interval])) / sum by (container) (rate("
                            f"container_cpu_cfs_periods_total{{{CADVISOR}, {pod_selector}}}[$__rate_interval]))",
                            "{{container}}"), unit="percentunit"),
            timeseries("Memory usage by container", "Working set of each container, with its request and limit.",
                       prom(f"sum by (container) ({memory(pod_selector)})", "{{container}}"),
                       prom(f"sum by (container) ({resource('requests', 'memory', pod_selector)})", "{{container}} request"),
                       prom(f"sum by (container) ({resource('limits', 'memory', pod_selector)})", "{{container}} limit"),
                       unit="bytes"),
            timeseries("Restarts", "Container restarts over the last hour.",
                       prom(f"sum by (container) (increase(kube_pod_container_status_restarts_total{{{KSM}, "
                            f"{pod_selector}}}[1h]))", "{{container}}")),
            timeseries("Filesystem I/O", "Bytes each container reads and writes per second.",
                       prom(f"sum by (container) (rate(container_fs_reads_bytes_total{{{CADVISOR}, {pod_selector}}}"
                            "[$__rate_interval]))", "{{container}} read"),
                       prom(f"sum by (container) (rate(container_fs_writes_bytes_total{{{CADVISOR}, {pod_selector}}}"
                            "[$__rate_interval]))", "{{container}} write"), unit="Bps"),
            table("Where it runs", "The pod's node and IP; the node opens its dashboard.",
                  prom(f"max by (node, pod_ip, host_ip) (kube_pod_info{{{KSM}, {pod_selector}}})", instant=True),
                  links=[("Node", link_to("k8s-node-pods", node="${__data.fields.node}"))], width=12),
        ],
        [namespace_var(app_namespace), Variable("pod", "Pod", f"label_values(kube_pod_info{{{KSM}, {NS}}}, pod)", "")],
        links=["k8s-namespace-pods", "k8s-workload", "k8s-node-pods", "k8s-networking-pod"], tags=TAGS)


def persistent_volumes() -> Board:
    claim = f'{KUBELET}, {NS}, persistentvolumeclaim="$claim"'
    return Board(
        "k8s-persistent-volumes", "Kubernetes / Persistent volumes", KUBERNETES,
        "Space and inodes of each persistent volume claim, and claims that are not bound.",
        [
            timeseries("Space used", "Share of the volume's capacity in use.",
                       prom(f"max by (persistentvolumeclaim) (kubelet_volume_stats_used_bytes{{{claim}}}) / max by "
                            f"(persistentvolumeclaim) (kubelet_volume_stats_capacity_bytes{{{claim}}})",
                            "{{persistentvolumeclaim}}"), unit="percentunit"),
            timeseries("Inodes used", "Share of the volume's inodes in use.",
                       prom(f"max by (persistentvolumeclaim) (kubelet_volume_stats_inodes_used{{{claim}}}) / max by "
                            f"(persistentvolumeclaim) (kubelet_volume_stats_inodes{{{claim}}})",
                            "{{persistentvolumeclaim}}"), unit="percentunit"),
            table("Claims", "Every claim of the namespace with its storage class and requested size.",
                  prom(f"max by (persistentvolumeclaim, storageclass, volumename) (kube_persistentvolumeclaim_info"
                       f"{{{KSM}, {NS}}})", instant=True),
                  prom(f"max by (persistentvolumeclaim) (kube_persistentvolumeclaim_resource_requests_storage_bytes"
                       f"{{{KSM}, {NS}}})", instant=True)),
            stat("Claims not bound", "Claims of the namespace in phase Pending or Lost: their pods cannot start.",
                 prom(f'sum(kube_persistentvolumeclaim_status_phase{{{KSM}, {NS}, phase=~"Pending|Lost"}})'), width=8),
        ],
        [namespace_var("monitoring", "kube_persistentvolumeclaim_info"),
         Variable("claim", "Claim", f"label_values(kubelet_volume_stats_capacity_bytes{{{KUBELET}, {NS}}}, "
                  "persistentvolumeclaim)", "")],
        links=["k8s-cluster"], tags=TAGS)


def kubelet() -> Board:
    node = f'{KUBELET}, node=~"$node"'
    return Board(
        "k8s-kubelet", "Kubernetes / Kubelet", KUBERNETES,
        "The kubelets (EKS serves their metrics; the control plane's scheduler and controllers are not exposed).",
        [
            stat("Kubelets up", "Kubelet endpoints answering Prometheus.", prom(f"sum(up{{{KUBELET}}})"), width=8),
            stat("Running pods", "Pods the kubelets run.", prom(f"sum(kubelet_running_pods{{{node}}})"), width=8),
            stat("Running containers", "Containers the kubelets run.",
                 prom(f'sum(kubelet_running_containers{{{node}, container_state="running"}})'), width=8),
            timeseries("Pod start duration p99", "Time from the pod's creation to its containers running (99th percentile).",
                       prom(f"histogram_quantile(0.99, sum by (node, le) (rate(kubelet_pod_start_duration_seconds_bucket"
                            f"{{{node}}}[$__rate_interval])))", "{{node}}"), unit="s"),
            timeseries("PLEG relist duration p99", "The kubelet's pod lifecycle event loop; slow relists mark the node NotReady.",
                       prom(f"histogram_quantile(0.99, sum by (node, le) (rate(kubelet_pleg_relist_duration_seconds_bucket"
                            f"{{{node}}}[$__rate_interval])))", "{{node}}"), unit="s"),
            timeseries("Runtime operation errors", "Container runtime operations failing, by operation.",
                       prom(f"sum by (node, operation_type) (rate(kubelet_runtime_operations_errors_total{{{node}}}"
                            "[$__rate_interval]))", "{{node}} {{operation_type}}"), unit="ops"),
            timeseries("Volume operations p99", "Mount, attach and detach durations (99th percentile) by plugin.",
                       prom(f"histogram_quantile(0.99, sum by (operation_name, volume_plugin, le) (rate("
                            f"storage_operation_duration_seconds_bucket{{{node}}}[$__rate_interval])))",
                            "{{operation_name}} {{volume_plugin}}"), unit="s"),
            timeseries("Client certificate lifetime", "Time until each kubelet's client certificate expires.",
                       prom(f"min by (node) (kubelet_certificate_manager_client_ttl_seconds{{{node}}})", "{{node}}"),
                       unit="s", width=24),
        ],
        [Variable("node", "Node", f"label_values(kubelet_node_name{{{KUBELET}}}, node)", "", include_all=True)],
        links=["nodes", "k8s-node-pods"], tags=TAGS)


def boards(stack) -> list[Board]:
    app = stack.app_namespace
    return [cluster(), namespace_pods(app), namespace_workloads(app), workload(app, stack.openemr.deployment),
            node_pods(), pod(app), persistent_volumes(), kubelet()]
