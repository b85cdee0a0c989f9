"""kube-state-metrics: object state (deployments, pods, nodes, PVCs, HPAs, jobs) as metrics.

Least privilege: it collects exactly the resources listed in RESOURCES and may read nothing else;
Secrets and ConfigMaps are deliberately left out (names and labels of Secrets are not needed here).
"""
from __future__ import annotations

from constructs import Construct
from stackgen import versions
from stackgen.context import Context
from stackgen.lib import tls
from stackgen.lib.monitors import Endpoint, ScrapeTls, service_monitor
from stackgen.lib.netpol import Policy, cidrs, component_policy, rule
from stackgen.lib.rbac import Grant, cluster_role
from stackgen.lib.workload import ContainerSpec, HttpProbe, PodSpec, Port, deployment, service, service_account
from stackgen.settings import Model, Resources, sized


class KubeStateMetricsConfig(Model):
    resources: Resources = sized("50m", "128Mi", "200m", "256Mi")


HTTP = Port("http-metrics", 8080)
TELEMETRY = Port("telemetry", 8081)
KUBE_API = Port("https", 443)

# collector name -> (API group, resource)
RESOURCES = {
    "certificatesigningrequests": ("certificates.k8s.io", "certificatesigningrequests"),
    "cronjobs": ("batch", "cronjobs"),
    "daemonsets": ("apps", "daemonsets"),
    "deployments": ("apps", "deployments"),
    "endpointslices": ("discovery.k8s.io", "endpointslices"),
    "horizontalpodautoscalers": ("autoscaling", "horizontalpodautoscalers"),
    "ingresses": ("networking.k8s.io", "ingresses"),
    "jobs": ("batch", "jobs"),
    "leases": ("coordination.k8s.io", "leases"),
    "limitranges": ("", "limitranges"),
    "namespaces": ("", "namespaces"),
    "networkpolicies": ("networking.k8s.io", "networkpolicies"),
    "nodes": ("", "nodes"),
    "persistentvolumeclaims": ("", "persistentvolumeclaims"),
    "persistentvolumes": ("", "persistentvolumes"),
    "poddisruptionbudgets": ("policy", "poddisruptionbudgets"),
    "pods": ("", "pods"),
    "replicasets": ("apps", "replicasets"),
    "replicationcontrollers": ("", "replicationcontrollers"),
    "resourcequotas": ("", "resourcequotas"),
    "services": ("", "services"),
    "statefulsets": ("apps", "statefulsets"),
    "storageclasses": ("storage.k8s.io", "storageclasses"),
    "volumeattachments": ("storage.k8s.io", "volumeattachments"),
}


def grants() -> list[Grant]:
    by_group: dict[str, list[str]] = {}
    for group, resource in RESOURCES.values():
        by_group.setdefault(group, []).append(resource)
    return [Grant((group,), tuple(sorted(resources)), ("list", "watch")) for group, resources in sorted(by_group.items())]


class KubeStateMetrics(Construct):
    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, "kube-state-metrics")
        identity = ctx.identity("kube-state-metrics", "exporter", versions.KUBE_STATE_METRICS)
        certificate = tls.certificate(self, ctx.config, identity, tls.service_names(identity.name, identity.namespace))
        web_config = tls.web_config_file(self, identity)
        container = ContainerSpec(
            name="kube-state-metrics", image=versions.KUBE_STATE_METRICS.ref,
            resources=ctx.config.kube_state_metrics.resources, ports=[HTTP, TELEMETRY],
            # --tls-config: exporter-toolkit's web config, for both ports (pkg/app/server.go at v2.18.0).
            args=[f"--port={HTTP.number}", f"--telemetry-port={TELEMETRY.number}",
                  f"--resources={','.join(sorted(RESOURCES))}", f"--tls-config={tls.WEB_CONFIG_FILE}"],
            mounts=[certificate.mount(), web_config.mount()],
            readiness=HttpProbe("/readyz", TELEMETRY.name, "HTTPS"), liveness=HttpProbe("/livez", HTTP.name, "HTTPS"))
        service_account(self, identity)
        cluster_role(self, identity, grants())
        deployment(self, PodSpec(identity, [container], uid=65534, api_access="watches the objects it exports as metrics",
                                 volumes=[certificate.volume(), web_config.volume()]), replicas=1)
        service(self, identity, [HTTP, TELEMETRY])
        # honorLabels keeps the namespace/pod labels of the objects described, not of the exporter.
        scrape_tls = ScrapeTls(certificate.secret, tls.server_name(identity.name, identity.namespace))
        service_monitor(self, identity, [Endpoint(HTTP.name, honor_labels=True, tls=scrape_tls),
                                         Endpoint(TELEMETRY.name, tls=scrape_tls)])
        ctx.scraped(identity, [HTTP, TELEMETRY])
        component_policy(self, identity, Policy(
            ingress=[rule([ctx.pods_of("prometheus")], [HTTP, TELEMETRY])],
            egress=[rule(cidrs(ctx.config.network.kube_api_cidrs), [KUBE_API])]))
