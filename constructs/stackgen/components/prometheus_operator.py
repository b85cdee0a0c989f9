"""The Prometheus Operator: turns the Prometheus/Alertmanager CRs and the monitors into StatefulSets
and scrape configuration. Version matches the pinned CRDs (dist/crds)."""
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


class PrometheusOperatorConfig(Model):
    resources: Resources = sized("50m", "64Mi", "200m", "256Mi")
    # Applied by the operator to the config-reloader sidecar it adds to Prometheus and Alertmanager pods.
    reloader_resources: Resources = sized("10m", "32Mi", "50m", "64Mi")


HTTP = Port("http", 8080)
KUBE_API = Port("https", 443)

# Least privilege for what the operator does (no wildcard verbs): it reconciles its custom resources
# and their status, and owns the StatefulSets, Secrets, ConfigMaps and Services it generates.
OWNS = ("get", "list", "watch", "create", "update", "patch", "delete")
GRANTS = [
    Grant(("monitoring.coreos.com",), (
        "alertmanagers", "alertmanagerconfigs", "prometheuses", "prometheusagents", "thanosrulers", "scrapeconfigs",
        "servicemonitors", "podmonitors", "probes", "prometheusrules"), ("get", "list", "watch", "update", "patch")),
    Grant(("monitoring.coreos.com",), (
        "alertmanagers/status", "alertmanagerconfigs/status", "prometheuses/status", "prometheusagents/status", "thanosrulers/status",
        "scrapeconfigs/status", "servicemonitors/status", "podmonitors/status", "probes/status",
        "prometheusrules/status"), ("get", "update", "patch")),
    Grant(("monitoring.coreos.com",), (
        "alertmanagers/finalizers", "prometheuses/finalizers", "prometheusagents/finalizers",
        "thanosrulers/finalizers"), ("update",)),
    Grant(("apps",), ("statefulsets",), OWNS),
    # Generated configuration (Prometheus config, rule files, web config) lives in Secrets/ConfigMaps.
    Grant(("",), ("configmaps", "secrets"), OWNS),
    Grant(("",), ("pods",), ("list", "delete")),
    # The governing Services of the StatefulSets and the kubelet Service/Endpoints (--kubelet-service).
    Grant(("",), ("services", "services/finalizers", "endpoints"), ("get", "create", "update", "delete")),
    Grant(("discovery.k8s.io",), ("endpointslices",), ("get", "create", "list", "update", "delete")),
    Grant(("",), ("nodes",), ("list", "watch")),
    Grant(("",), ("namespaces",), ("get", "list", "watch")),
    Grant(("", "events.k8s.io"), ("events",), ("patch", "create")),
    Grant(("networking.k8s.io",), ("ingresses",), ("get", "list", "watch")),
    Grant(("storage.k8s.io",), ("storageclasses",), ("get",)),
]


class PrometheusOperator(Construct):
    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, "prometheus-operator")
        config = ctx.config.prometheus_operator
        identity = ctx.identity("prometheus-operator", "controller", versions.PROMETHEUS_OPERATOR)
        certificate = tls.certificate(self, ctx.config, identity, tls.service_names(identity.name, identity.namespace))
        reloader = config.reloader_resources
        args = [
            f"--prometheus-config-reloader={versions.PROMETHEUS_CONFIG_RELOADER.ref}",
            f"--config-reloader-cpu-request={reloader.cpu_request}",
            f"--config-reloader-cpu-limit={reloader.cpu_limit}",
            f"--config-reloader-memory-request={reloader.memory_request}",
            f"--config-reloader-memory-limit={reloader.memory_limit}",
            # Maintains the kube-system/kubelet Service that the kubelet/cAdvisor ServiceMonitor selects.
            "--kubelet-service=kube-system/kubelet",
            "--web.listen-address=:8080",
            # Its metrics and health server over TLS (pkg/server/server.go at v0.93.0): minimum TLS 1.3 (its
            # default), the certificate files watched and reloaded when they change; no client CA (an
            # empty path: the default /etc/tls/private/tls-ca.crt would turn on client verification).
            "--web.enable-tls=true", f"--web.cert-file={tls.CERT_FILE}", f"--web.key-file={tls.KEY_FILE}",
            "--web.client-ca-file=",
            "--log-format=json",
        ]
        container = ContainerSpec(
            name="prometheus-operator", image=versions.PROMETHEUS_OPERATOR.ref, resources=config.resources,
            ports=[HTTP], args=args, mounts=[certificate.mount()],
            readiness=HttpProbe("/healthz", HTTP.name, "HTTPS"), liveness=HttpProbe("/healthz", HTTP.name, "HTTPS"))
        service_account(self, identity)
        cluster_role(self, identity, GRANTS)
        deployment(self, PodSpec(identity, [container], uid=65534, volumes=[certificate.volume()],
                                 api_access="reconciles its custom resources into StatefulSets, Secrets and Services"),
                   replicas=1)
        service(self, identity, [HTTP])
        service_monitor(self, identity, [Endpoint(HTTP.name, tls=ScrapeTls(
            certificate.secret, tls.server_name(identity.name, identity.namespace)))])
        ctx.scraped(identity, [HTTP])
        component_policy(self, identity, Policy(
            ingress=[rule([ctx.pods_of("prometheus")], [HTTP])],
            egress=[rule(cidrs(ctx.config.network.kube_api_cidrs), [KUBE_API])],
        ))
