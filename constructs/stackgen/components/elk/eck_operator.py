"""The ECK operator (Elastic Cloud on Kubernetes) 3.5.0: turns the Elasticsearch and Kibana resources
into StatefulSets, Deployments, Services, certificates and Secrets. Rendered only with
`logs.backend: elasticsearch | both`; its CRDs (dist/crds) are applied first, it runs in the operators
stage (dist/<overlay>/operators) like the Prometheus Operator.

Namespace: the stack's own, and it manages that namespace only (`namespaces: [<stack>]`). So its
rights are a Role in that namespace (Secrets, pods, StatefulSets of the stack alone, never the whole
cluster's), plus a read-only ClusterRole on StorageClasses (volume expansion checks); its pod is held
to the restricted profile the namespace enforces; and no second namespace with its own baseline is
needed. Elastic's chart renders the same shape with `createClusterScopedResources: false` (a Role from
`eck-operator.rbacRules`). Configuration keys are those of the chart's configmap.yaml (`eck.yaml`).

No validating webhook: it needs a serving certificate and a ValidatingWebhookConfiguration the operator
patches cluster-wide; the CRDs' schemas are still enforced by the API server, and ECK reports what it
refuses in the resources' status and events. Telemetry is off (it would read cluster-scoped data).
"""
from __future__ import annotations

import cdk8s_plus_37.k8s as k
import yaml

from constructs import Construct
from stackgen import versions
from stackgen.components.elk import elasticsearch
from stackgen.context import Context
from stackgen.lib.monitors import Endpoint, service_monitor
from stackgen.lib.netpol import Policy, cidrs, component_policy, rule
from stackgen.lib.rbac import READ, Grant, cluster_role, role
from stackgen.lib.workload import (
    ContainerSpec,
    HttpProbe,
    PodSpec,
    Port,
    checksum,
    deployment,
    service,
    service_account,
)
from stackgen.settings import Model, Resources, sized

NAME = "eck-operator"
METRICS = Port("metrics", 9090)
KUBE_API = Port("https", 443)
CONFIG_DIR = "/conf"
OWNS = ("get", "list", "watch", "create", "update", "patch", "delete")
RECONCILES = ("get", "list", "watch", "update", "patch")


class EckOperatorConfig(Model):
    resources: Resources = sized("50m", "150Mi", "1", "1Gi")  # the chart's limits


# What it does in the stack's namespace, from the chart's rbacRules: it owns the objects it generates and
# reconciles (never creates or deletes) our Elasticsearch and Kibana resources. The other ECK kinds are
# read only: the operator starts a controller for each and waits for their caches before reconciling.
NAMESPACED = [
    Grant(("",), ("pods", "persistentvolumeclaims", "secrets", "services", "configmaps"), OWNS),
    Grant(("",), ("endpoints",), READ),
    Grant(("",), ("events",), ("create", "patch")),
    Grant(("apps",), ("statefulsets", "deployments"), OWNS),
    Grant(("apps",), ("daemonsets",), READ),
    Grant(("policy",), ("poddisruptionbudgets",), OWNS),
    Grant(("elasticsearch.k8s.elastic.co",), ("elasticsearches", "elasticsearches/status",
                                               "elasticsearches/finalizers"), RECONCILES),
    Grant(("kibana.k8s.elastic.co",), ("kibanas", "kibanas/status", "kibanas/finalizers"), RECONCILES),
    Grant(("agent.k8s.elastic.co", "apm.k8s.elastic.co", "beat.k8s.elastic.co", "maps.k8s.elastic.co",
           "enterprisesearch.k8s.elastic.co", "logstash.k8s.elastic.co", "stackconfigpolicy.k8s.elastic.co",
           "autoscaling.k8s.elastic.co", "packageregistry.k8s.elastic.co", "autoops.k8s.elastic.co"),
          ("agents", "apmservers", "beats", "elasticmapsservers", "enterprisesearches", "logstashes",
           "stackconfigpolicies", "elasticsearchautoscalers", "packageregistries", "autoopsagentpolicies"), READ),
    # Leader election: create its Lease, then only that one (ECK's election id elastic-operator-leader).
    Grant(("coordination.k8s.io",), ("leases",), ("create",)),
]
LEADER_LEASE = k.PolicyRule(api_groups=["coordination.k8s.io"], resources=["leases"],
                            resource_names=["elastic-operator-leader"], verbs=["get", "watch", "update"])
CLUSTER = [Grant(("storage.k8s.io",), ("storageclasses",), READ)]


def operator_config(namespace: str) -> dict:
    """eck.yaml, keys as the 3.5 chart's configmap.yaml renders them."""
    return {
        "log-verbosity": 0,
        "metrics-port": METRICS.number,
        "metrics-secure": False,
        "container-registry": "docker.elastic.co",
        "max-concurrent-reconciles": 3,
        "ca-cert-validity": "8760h",
        "ca-cert-rotate-before": "24h",
        "cert-validity": "8760h",
        "cert-rotate-before": "24h",
        "disable-config-watch": False,
        "set-default-security-context": "auto-detect",
        "kube-client-timeout": "60s",
        "elasticsearch-client-timeout": "180s",
        "disable-telemetry": True,
        "validate-storage-class": True,
        "enable-webhook": False,
        "namespaces": [namespace],
        "operator-namespace": namespace,
        "enable-leader-election": True,
        "elasticsearch-observation-interval": "10s",
        "ubi-only": False,
    }


class EckOperator(Construct):
    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, NAME)
        stack = ctx.config
        if not elasticsearch.enabled(stack):
            return
        identity = ctx.identity(NAME, "controller", versions.ECK_OPERATOR)
        text = yaml.safe_dump(operator_config(stack.namespace), sort_keys=False)
        k.KubeConfigMap(self, "config", metadata=identity.meta(), data={"eck.yaml": text})
        container = ContainerSpec(
            name="manager", image=versions.ECK_OPERATOR.ref, resources=stack.eck_operator.resources,
            ports=[METRICS], args=["manager", f"--config={CONFIG_DIR}/eck.yaml"],
            # POD_IP: the operator reads its IP family from it (IPv4 when empty), as in the chart.
            env=[k.EnvVar(name=name, value_from=k.EnvVarSource(field_ref=k.ObjectFieldSelector(field_path=path)))
                 for name, path in (("OPERATOR_NAMESPACE", "metadata.namespace"), ("POD_IP", "status.podIP"))],
            mounts=[k.VolumeMount(name="conf", mount_path=CONFIG_DIR, read_only=True)],
            readiness=HttpProbe("/metrics", METRICS.name), liveness=None,
            no_liveness="Elastic's manifests render no probe; the metrics listener says nothing about reconciling")
        service_account(self, identity)
        role(self, identity, [*(g.render() for g in NAMESPACED), LEADER_LEASE])
        cluster_role(self, identity, CLUSTER)
        deployment(self, PodSpec(
            identity, [container], uid=65534, api_access="reconciles Elasticsearch and Kibana into StatefulSets, "
            "Deployments, Services and Secrets", annotations={"checksum/config": checksum(text)},
            volumes=[k.Volume(name="conf", config_map=k.ConfigMapVolumeSource(name=NAME))]), replicas=1)
        service(self, identity, [METRICS])
        service_monitor(self, identity, [Endpoint(METRICS.name)])
        ctx.scraped(identity, [METRICS])
        # As Elastic's own operator policy: the API server and Elasticsearch's HTTP port, nothing else.
        component_policy(self, identity, Policy(
            ingress=[rule([ctx.pods_of("prometheus")], [METRICS])],
            egress=[rule(cidrs(stack.network.kube_api_cidrs), [KUBE_API]),
                    rule([elasticsearch.pods(ctx)], [elasticsearch.HTTPS])]))
