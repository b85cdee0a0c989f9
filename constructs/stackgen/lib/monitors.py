"""ServiceMonitor and PodMonitor, written once, always carrying the label the Prometheus CR selects."""
from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct
from imports.com.coreos import monitoring as m
from stackgen.lib.meta import Identity

# For node agents: name the target after its node rather than its host IP, and give it the `node` label
# that kube-state-metrics' series carry, so that a node-down alert inhibits the agents' alerts of that
# node (ServiceMonitor and PodMonitor relabelings have the same shape in separate binding types).
NODE_AS_INSTANCE = [{"source_labels": ["__meta_kubernetes_pod_node_name"], "target_label": label}
                    for label in ("instance", "node")]


@dataclass(frozen=True)
class ScrapeTls:
    """A target that serves HTTPS: Prometheus verifies its certificate against the CA in the target's own
    certificate Secret (key ca.crt only; the operator copies that key into Prometheus' TLS assets) and
    for the name the certificate carries (Prometheus dials the pod's IP)."""
    ca_secret: str
    server_name: str

    def config(self) -> dict:
        """The binding's keyword arguments (the same for ServiceMonitor and PodMonitor endpoints)."""
        return {"ca": {"secret": {"name": self.ca_secret, "key": "ca.crt"}}, "server_name": self.server_name}


@dataclass(frozen=True)
class Endpoint:
    port: str
    path: str = "/metrics"
    interval: str | None = None
    honor_labels: bool = False
    relabel_instance_to_node: bool = False  # NODE_AS_INSTANCE
    # A label of the exporter's own that the stack's external labels also set (`cluster`) is renamed to
    # this, so that the Kubernetes cluster's name still reaches the alerts and Mimir.
    rename_cluster_label_to: str | None = None
    # None: plain HTTP (a port the README lists with its reason).
    tls: ScrapeTls | None = None

    def render(self) -> m.ServiceMonitorSpecEndpoints:
        relabelings = [m.ServiceMonitorSpecEndpointsRelabelings(**r) for r in NODE_AS_INSTANCE] \
            if self.relabel_instance_to_node else None
        return m.ServiceMonitorSpecEndpoints(port=self.port, path=self.path, interval=self.interval,
                                             honor_labels=self.honor_labels or None, relabelings=relabelings,
                                             metric_relabelings=self._metric_relabelings(),
                                             scheme=m.ServiceMonitorSpecEndpointsScheme.HTTPS if self.tls else None,
                                             tls_config=self.tls.config() if self.tls else None)

    def _metric_relabelings(self) -> list[m.ServiceMonitorSpecEndpointsMetricRelabelings] | None:
        if not self.rename_cluster_label_to:
            return None
        action = m.ServiceMonitorSpecEndpointsMetricRelabelingsAction
        return [m.ServiceMonitorSpecEndpointsMetricRelabelings(source_labels=["cluster"],
                                                               target_label=self.rename_cluster_label_to),
                m.ServiceMonitorSpecEndpointsMetricRelabelings(action=action.LABELDROP, regex="cluster")]


def service_monitor(scope: Construct, identity: Identity, endpoints: list[Endpoint], *,
                    selector: dict[str, str] | None = None, in_namespace: str | None = None) -> m.ServiceMonitor:
    """The identity's Services, or (`selector`, `in_namespace`) another namespace's, e.g. a platform add-on's."""
    return m.ServiceMonitor(
        scope, "service-monitor",
        metadata={"name": identity.name, "namespace": identity.namespace, "labels": identity.selection_labels},
        spec=m.ServiceMonitorSpec(
            selector=m.ServiceMonitorSpecSelector(match_labels=selector or identity.selector),
            namespace_selector=m.ServiceMonitorSpecNamespaceSelector(match_names=[in_namespace]) if in_namespace else None,
            endpoints=[e.render() for e in endpoints],
        ),
    )


def pod_monitor(scope: Construct, identity: Identity, endpoints: list[Endpoint]) -> m.PodMonitor:
    """For DaemonSets: every pod scraped directly (no Service), named after its node."""
    return m.PodMonitor(
        scope, "pod-monitor",
        metadata={"name": identity.name, "namespace": identity.namespace, "labels": identity.selection_labels},
        spec=m.PodMonitorSpec(
            selector=m.PodMonitorSpecSelector(match_labels=identity.selector),
            pod_metrics_endpoints=[m.PodMonitorSpecPodMetricsEndpoints(
                port=e.port, path=e.path, interval=e.interval,
                scheme=m.PodMonitorSpecPodMetricsEndpointsScheme.HTTPS if e.tls else None,
                tls_config=e.tls.config() if e.tls else None,
                relabelings=[m.PodMonitorSpecPodMetricsEndpointsRelabelings(**r) for r in NODE_AS_INSTANCE])
                for e in endpoints],
        ),
    )
