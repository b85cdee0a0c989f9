"""Prometheus, run by the operator from a Prometheus CR.

It selects every ServiceMonitor, PodMonitor and PrometheusRule labelled
`monitoring.openemr.io/prometheus: <instance>` in any namespace, so a monitor without that label is
not silently half-selected: it is either the stack's or it is not. HPA scaling goes through the CR's
scale subresource (.spec.shards); the shard count is then left out of the CR so the HPA owns it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from constructs import Construct
from imports.com.coreos import monitoring as m
from stackgen import catalog, versions
from stackgen.components import alertmanager, mimir
from stackgen.context import Context
from stackgen.lib import operated, tls
from stackgen.lib.monitors import Endpoint, ScrapeTls, service_monitor
from stackgen.lib.netpol import Policy, cidrs, component_policy, rule
from stackgen.lib.rbac import Grant, cluster_role
from stackgen.lib.scaling import ScaleTarget, replicas_and_scaling
from stackgen.lib.workload import Port, service, service_account
from stackgen.names import SELECTION_LABEL
from stackgen.settings import ByteSize, Memory, Model, PositiveDuration, Resources, memory_bytes, sized

if TYPE_CHECKING:  # the overlay's model imports every component's; this only annotates
    from stackgen.config import StackConfig


class PrometheusConfig(Model):
    replicas: int = Field(1, ge=1, le=5, description="HA copies of every shard")
    retention: PositiveDuration = "30d"
    retention_size: ByteSize = "90GB"
    scrape_interval: PositiveDuration = "30s"
    evaluation_interval: PositiveDuration = "30s"
    storage_size: Memory = "100Gi"
    resources: Resources = sized("300m", "1Gi", "1", "2Gi")

    @model_validator(mode="after")
    def _retention_size_fits_volume(self) -> "Prometheus":
        # Size-based retention must trigger before the volume is full, with room for the WAL.
        if memory_bytes(self.retention_size) > 0.9 * memory_bytes(self.storage_size):
            raise ValueError(
                f"retention_size={self.retention_size} must be <= 90% of storage_size ({self.storage_size})")
        return self


WEB = Port("web", 9090)
RELOADER = Port("reloader-web", 8080)
KUBELET = Port("https-metrics", 10250)
NODE_EXPORTER = Port("metrics", 9100)
KUBE_API = Port("https", 443)
ALERTMANAGER_WEB = Port("web", 9093)
# The operator's headless Service of the StatefulSet.
GOVERNING_SERVICE = "prometheus-operated"
# Prometheus' own ServiceAccount token and cluster CA, for the kubelets and the API server.
TOKEN_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token"
CA_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"

GRANTS = [
    Grant(("",), ("nodes", "nodes/metrics", "services", "endpoints", "pods")),
    Grant(("discovery.k8s.io",), ("endpointslices",)),
    Grant(("networking.k8s.io",), ("ingresses",)),
    Grant(("",), ("configmaps",), ("get",)),
]


def _selected(instance: str) -> dict:
    return {"match_labels": {SELECTION_LABEL: instance}}


class Prometheus(Construct):
    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, "prometheus")
        config, stack = ctx.config.prometheus, ctx.config
        identity = ctx.identity("prometheus", "prometheus", versions.PROMETHEUS)
        name = stack.instance
        shards = replicas_and_scaling(
            self, identity, ScaleTarget("monitoring.coreos.com/v1", "Prometheus", name), "prometheus",
            stack.autoscaling, identity.selector, copies=config.replicas)
        scales_out = config.replicas > 1 or shards != 1
        # Grafana dials the Service; Prometheus' own scrapes and the HA replicas the StatefulSet's pods.
        certificate = tls.certificate(self, stack, identity, [
            *tls.service_names(identity.name, ctx.namespace), *tls.service_names(GOVERNING_SERVICE, ctx.namespace)])
        secret = certificate.secret
        m.Prometheus(
            self, "prometheus",
            metadata={"name": name, "namespace": ctx.namespace, "labels": identity.labels},
            spec=m.PrometheusSpec(
                image=versions.PROMETHEUS.ref, version=versions.PROMETHEUS.tag,
                replicas=config.replicas, shards=shards,
                service_account_name=identity.name,
                pod_metadata=m.PrometheusSpecPodMetadata(labels=identity.labels),
                retention=config.retention, retention_size=config.retention_size,
                scrape_interval=config.scrape_interval, evaluation_interval=config.evaluation_interval,
                external_labels={"cluster": stack.cluster_name, "overlay": ctx.overlay},
                service_monitor_selector=m.PrometheusSpecServiceMonitorSelector(**_selected(name)),
                service_monitor_namespace_selector=m.PrometheusSpecServiceMonitorNamespaceSelector(),
                pod_monitor_selector=m.PrometheusSpecPodMonitorSelector(**_selected(name)),
                pod_monitor_namespace_selector=m.PrometheusSpecPodMonitorNamespaceSelector(),
                rule_selector=m.PrometheusSpecRuleSelector(**_selected(name)),
                rule_namespace_selector=m.PrometheusSpecRuleNamespaceSelector(),
                # Probes and ScrapeConfigs are not used: null selectors select none.
                web=operated.web_tls("Prometheus", secret),
                # To every Alertmanager pod (the operator's headless Service), HTTPS, verified with our CA.
                alerting=m.PrometheusSpecAlerting(alertmanagers=[m.PrometheusSpecAlertingAlertmanagers(
                    name=alertmanager.GOVERNING_SERVICE, namespace=ctx.namespace,
                    api_version=m.PrometheusSpecAlertingAlertmanagersApiVersion.V2,
                    port=m.PrometheusSpecAlertingAlertmanagersPort.from_string(ALERTMANAGER_WEB.name),
                    scheme=m.PrometheusSpecAlertingAlertmanagersScheme.HTTPS,
                    tls_config={"ca": operated.ca_of(secret), "server_name": alertmanager.server_name(ctx.namespace)})]),
                resources=operated.resources("Prometheus", config.resources),
                security_context=operated.security_context("Prometheus"),
                affinity=operated.spread_over_nodes("Prometheus", identity.selector) if scales_out else None,
                node_selector=identity.placement.node_selector if identity.placement else None,
                tolerations=operated.tolerations("Prometheus", identity.placement),
                storage=operated.storage("Prometheus", stack.storage.class_name, config.storage_size),
                wal_compression=True,
                remote_write=[_remote_write_to_mimir(stack, name, secret)],
            ),
        )
        service_account(self, identity)
        cluster_role(self, identity, GRANTS, non_resource_urls=["/metrics"])
        # Grafana's queries stay on one HA replica (as kube-prometheus' prometheus-k8s Service): replicas scrape
        # at different moments, and panels must not flip between their slightly different data.
        service(self, identity, [WEB, RELOADER], session_affinity="ClientIP")
        # The config reloader serves the same web config file (and certificate) as Prometheus.
        scrape_tls = ScrapeTls(secret, tls.server_name(identity.name, ctx.namespace))
        service_monitor(self, identity, [Endpoint(WEB.name, tls=scrape_tls), Endpoint(RELOADER.name, tls=scrape_tls)])
        ctx.scraped(identity, [WEB, RELOADER])
        self._kubelet_monitor(ctx, identity)
        self._api_server_monitor(ctx, identity)
        self._ctx, self._identity = ctx, identity

    def _cluster_service_monitor(self, ctx: Context, identity, name: str, namespace: str, job_label: str,
                                 selector: dict[str, str], endpoints: list) -> None:
        """A ServiceMonitor (in our namespace, selected by our Prometheus) for a Service of the cluster's own."""
        m.ServiceMonitor(
            self, f"{name}-service-monitor",
            metadata={"name": name, "namespace": ctx.namespace,
                      "labels": {**identity.selection_labels, "app.kubernetes.io/name": name,
                                 "app.kubernetes.io/component": name}},
            spec=m.ServiceMonitorSpec(
                job_label=job_label,
                namespace_selector=m.ServiceMonitorSpecNamespaceSelector(match_names=[namespace]),
                selector=m.ServiceMonitorSpecSelector(match_labels=selector),
                endpoints=endpoints))

    def _kubelet_monitor(self, ctx: Context, identity) -> None:
        """Container (cAdvisor) and kubelet metrics, through the kube-system/kubelet Service that the
        operator maintains (--kubelet-service)."""
        tls = m.ServiceMonitorSpecEndpointsTlsConfig(
            ca_file=CA_FILE,
            # EKS kubelets serve self-signed certificates for their node IPs.
            insecure_skip_verify=True)
        endpoints = [
            m.ServiceMonitorSpecEndpoints(
                port=KUBELET.name, scheme=m.ServiceMonitorSpecEndpointsScheme.HTTPS, path=path,
                bearer_token_file=TOKEN_FILE,
                tls_config=tls, honor_labels=True,
                relabelings=[m.ServiceMonitorSpecEndpointsRelabelings(
                    source_labels=["__metrics_path__"], target_label="metrics_path")])
            for path in ("/metrics", "/metrics/cadvisor")
        ]
        self._cluster_service_monitor(ctx, identity, "kubelet", "kube-system", "app.kubernetes.io/name",
                                      {"app.kubernetes.io/name": "kubelet"}, endpoints)

    def _api_server_monitor(self, ctx: Context, identity) -> None:
        """The API server's own metrics: EKS serves /metrics through the default `kubernetes` Service. Read
        with Prometheus' token (nonResourceURLs /metrics get, GRANTS), over the kube_api_cidrs egress; only
        the catalogued series are kept (its request histograms are large)."""
        kept = "|".join(sorted(catalog.component_series("apiserver")))
        self._cluster_service_monitor(
            ctx, identity, "apiserver", "default", "component", {"component": "apiserver", "provider": "kubernetes"},
            [m.ServiceMonitorSpecEndpoints(
                port=KUBE_API.name, scheme=m.ServiceMonitorSpecEndpointsScheme.HTTPS, bearer_token_file=TOKEN_FILE,
                tls_config=m.ServiceMonitorSpecEndpointsTlsConfig(ca_file=CA_FILE, server_name="kubernetes"),
                metric_relabelings=[m.ServiceMonitorSpecEndpointsMetricRelabelings(
                    action=m.ServiceMonitorSpecEndpointsMetricRelabelingsAction.KEEP,
                    source_labels=["__name__"], regex=kept)])])

    def allow_flows(self) -> None:
        """Prometheus' NetworkPolicy, once every component has declared what Prometheus scrapes."""
        ctx, network = self._ctx, self._ctx.config.network
        scrape = [rule([t.peer], list(t.ports)) for t in ctx.scrape_targets]
        component_policy(self, self._identity, Policy(
            ingress=[rule([ctx.pods_of("grafana")], [WEB]), rule([ctx.pods_of("prometheus")], [WEB, RELOADER])],
            egress=[
                *scrape,
                rule([ctx.pods_of("alertmanager")], [ALERTMANAGER_WEB]),
                rule([ctx.pods_of(mimir.push_service(ctx.config))], [mimir.HTTP]),
                # Kubelet and node-exporter listen on the node's own address (host network).
                rule(cidrs(network.node_cidrs), [KUBELET, NODE_EXPORTER]),
                # Service discovery reads Endpoints/Pods from the API server.
                rule(cidrs(network.kube_api_cidrs), [KUBE_API]),
            ]))



def _https(url: str) -> str:
    return "https://" + url.split("://", 1)[1]


def _remote_write_to_mimir(stack: StackConfig, name: str, certificate_secret: str) -> m.PrometheusSpecRemoteWrite:
    """Long-term copy in Mimir. Mimir's HA de-duplication needs Consul or etcd (not memberlist), so of the
    HA replicas only replica 0 of each shard writes, and without its replica label: one series each.
    HTTPS to the Service the URL names, verified for that name with our CA."""
    action = m.PrometheusSpecRemoteWriteWriteRelabelConfigsAction
    url = _https(mimir.push_url(stack))
    return m.PrometheusSpecRemoteWrite(
        url=url, name="mimir", send_exemplars=True,
        tls_config={"ca": operated.ca_of(certificate_secret), "server_name": urlsplit(url).hostname},
        write_relabel_configs=[
            m.PrometheusSpecRemoteWriteWriteRelabelConfigs(
                action=action.KEEP, source_labels=["prometheus_replica"], regex=f"prometheus-{name}(-shard-[0-9]+)?-0"),
            m.PrometheusSpecRemoteWriteWriteRelabelConfigs(action=action.LABELDROP, regex="prometheus_replica"),
        ])
