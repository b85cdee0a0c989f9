"""Kubernetes networking (cluster, namespace, pod) from the kubelet's cAdvisor: bytes, packets and drops
of each pod's network namespace (the pod-level series, container="")."""
from __future__ import annotations

from stackgen.dashboards.panels import CLUSTER, KUBERNETES, Board, Variable, link_to, namespace_var, prom, table, timeseries

NET = f'{CLUSTER}, job="kubelet", metrics_path="/metrics/cadvisor"'
NS = 'namespace="$namespace"'
TAGS = ("kubernetes", "networking")


def _rate(metric: str, selector: str) -> str:
    return f"rate({metric}{{{NET}, {selector}}}[$__rate_interval])"


def _traffic(group: str, selector: str, legend: str, links=()) -> list:
    return [
        timeseries("Received", f"Bytes received per second, by {group}.",
                   prom(f"sum by ({group}) ({_rate('container_network_receive_bytes_total', selector)})", legend),
                   unit="Bps", links=links),
        timeseries("Transmitted", f"Bytes sent per second, by {group}.",
                   prom(f"sum by ({group}) ({_rate('container_network_transmit_bytes_total', selector)})", legend),
                   unit="Bps", links=links),
        timeseries("Packets received", f"Packets received per second, by {group}.",
                   prom(f"sum by ({group}) ({_rate('container_network_receive_packets_total', selector)})", legend),
                   unit="pps"),
        timeseries("Packets transmitted", f"Packets sent per second, by {group}.",
                   prom(f"sum by ({group}) ({_rate('container_network_transmit_packets_total', selector)})", legend),
                   unit="pps"),
        timeseries("Packets dropped on receive", f"Received packets dropped per second, by {group}.",
                   prom(f"sum by ({group}) ({_rate('container_network_receive_packets_dropped_total', selector)})",
                        legend), unit="pps"),
        timeseries("Packets dropped on transmit", f"Sent packets dropped per second, by {group}.",
                   prom(f"sum by ({group}) ({_rate('container_network_transmit_packets_dropped_total', selector)})",
                        legend), unit="pps"),
    ]


def cluster() -> Board:
    any_namespace = 'namespace!=""'
    return Board(
        "k8s-networking-cluster", "Kubernetes / Networking / Cluster", KUBERNETES,
        "Network traffic and drops of every namespace.",
        [*_traffic("namespace", any_namespace, "{{namespace}}",
                   [("Namespace", link_to("k8s-networking-namespace", namespace="${__field.labels.namespace}"))]),
         table("Current traffic by namespace", "Bytes received and sent per second right now, per namespace.",
               prom(f"sum by (namespace) ({_rate('container_network_receive_bytes_total', any_namespace)})",
                    instant=True),
               prom(f"sum by (namespace) ({_rate('container_network_transmit_bytes_total', any_namespace)})",
                    instant=True), unit="Bps")],
        links=["k8s-networking-namespace", "k8s-cluster"], tags=TAGS)


def namespace(app_namespace: str) -> Board:
    return Board(
        "k8s-networking-namespace", "Kubernetes / Networking / Namespace (pods)", KUBERNETES,
        "Network traffic and drops of each pod in a namespace.",
        _traffic("pod", NS, "{{pod}}", [("Pod", link_to("k8s-networking-pod", namespace="$namespace",
                                                              pod="${__field.labels.pod}"))]),
        [namespace_var(app_namespace)], links=["k8s-networking-cluster", "k8s-networking-pod"], tags=TAGS)


def pod(app_namespace: str) -> Board:
    return Board(
        "k8s-networking-pod", "Kubernetes / Networking / Pod", KUBERNETES,
        "Network traffic and drops of one pod, per interface.",
        _traffic("interface", f'{NS}, pod="$pod"', "{{interface}}"),
        [namespace_var(app_namespace),
         Variable("pod", "Pod", f'label_values(container_network_receive_bytes_total{{{NET}, {NS}}}, pod)', "")],
        links=["k8s-networking-namespace", "k8s-pod"], tags=TAGS)


def boards(stack) -> list[Board]:
    return [cluster(), namespace(stack.app_namespace), pod(stack.app_namespace)]
