"""metrics-server: the resource metrics API (`metrics.k8s.io`) every HPA of the stack scales on.

EKS Auto Mode does not run it (CONTEXT, and AWS's "Install the Kubernetes Metrics Server" page), and
without it each HPA reports `FailedGetResourceMetric` and never scales. Chosen over prometheus-adapter
(README: Platform add-ons): it is SIG Instrumentation's reference implementation, needs no Prometheus
(the HPAs keep working while Prometheus itself is being scaled or restarted), and costs 100m / 200Mi.

Rendered as upstream's manifests at the pinned tag (kubernetes-sigs/metrics-server manifests/base and
components/release: kube-system, the same RBAC, APIService, flags and probes), with the stack's labels
and limits. v0.8.x serves Kubernetes 1.31 and newer (its compatibility matrix).
"""
from __future__ import annotations

import cdk8s_plus_37.k8s as k

from constructs import Construct
from stackgen import versions
from stackgen.lib.meta import Identity
from stackgen.lib.workload import ContainerSpec, HttpProbe, PodSpec, Port, deployment, empty_dir, service, service_account
from stackgen.settings import Resources

NAMESPACE = "kube-system"
API_SERVICE = "v1beta1.metrics.k8s.io"
HTTPS = Port("https", 10250)
RESOURCES = Resources(cpu_request="100m", memory_request="200Mi", cpu_limit="1", memory_limit="400Mi")
ARGS = ["--cert-dir=/tmp", f"--secure-port={HTTPS.number}",
        "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
        "--kubelet-use-node-status-port", "--metric-resolution=15s"]
RBAC_GROUP = "rbac.authorization.k8s.io"


def _binding(scope: Construct, kind: str, name: str, role_kind: str, role: str, identity: Identity) -> None:
    meta = k.ObjectMeta(name=name, namespace=NAMESPACE if kind == "RoleBinding" else None, labels=identity.labels)
    props = dict(metadata=meta, role_ref=k.RoleRef(api_group=RBAC_GROUP, kind=role_kind, name=role),
                 subjects=[k.Subject(kind="ServiceAccount", name=identity.name, namespace=NAMESPACE)])
    (k.KubeRoleBinding if kind == "RoleBinding" else k.KubeClusterRoleBinding)(scope, name, **props)


def _rbac(scope: Construct, identity: Identity) -> None:
    # Who may read the API it serves (aggregated into view/edit/admin), and what it reads itself.
    k.KubeClusterRole(scope, "aggregated-reader", metadata=k.ObjectMeta(
        name="system:aggregated-metrics-reader", labels={**identity.labels, **{
            f"rbac.authorization.k8s.io/aggregate-to-{role}": "true" for role in ("view", "edit", "admin")}}),
        rules=[k.PolicyRule(api_groups=["metrics.k8s.io"], resources=["pods", "nodes"], verbs=["get", "list", "watch"])])
    k.KubeClusterRole(scope, "reader", metadata=k.ObjectMeta(name="system:metrics-server", labels=identity.labels),
                      rules=[k.PolicyRule(api_groups=[""], resources=["nodes/metrics"], verbs=["get"]),
                             k.PolicyRule(api_groups=[""], resources=["pods", "nodes"], verbs=["get", "list", "watch"])])
    _binding(scope, "ClusterRoleBinding", "system:metrics-server", "ClusterRole", "system:metrics-server", identity)
    # An aggregated API server authenticates and authorizes its callers through the API server.
    _binding(scope, "ClusterRoleBinding", "metrics-server:system:auth-delegator", "ClusterRole",
             "system:auth-delegator", identity)
    _binding(scope, "RoleBinding", "metrics-server-auth-reader", "Role", "extension-apiserver-authentication-reader",
             identity)


class MetricsServer(Construct):
    def __init__(self, scope: Construct, instance: str):
        super().__init__(scope, "metrics-server")
        identity = Identity("metrics-server", "resource-metrics-api", versions.METRICS_SERVER.version, instance,
                            NAMESPACE)
        container = ContainerSpec(
            name="metrics-server", image=versions.METRICS_SERVER.ref, resources=RESOURCES, ports=[HTTPS],
            args=ARGS, mounts=[k.VolumeMount(name="tmp", mount_path="/tmp")],
            readiness=HttpProbe("/readyz", HTTPS.name, "HTTPS"), liveness=HttpProbe("/livez", HTTPS.name, "HTTPS"))
        service_account(self, identity)
        _rbac(self, identity)
        # Upstream runs it as 1000; any uid works (it writes only its self-signed certificate to /tmp), and
        # a uid above 10000 keeps it clear of host users (checkov CKV_K8S_40).
        deployment(self, PodSpec(identity, [container], uid=65534, volumes=[empty_dir("tmp")],
                                 api_access="reads nodes and pods, and authenticates its callers",
                                 priority_class="system-cluster-critical"), replicas=1)
        service(self, identity, [Port(HTTPS.name, 443)])
        k.KubeApiService(self, "api-service", metadata=k.ObjectMeta(name=API_SERVICE, labels=identity.labels),
                         spec=k.ApiServiceSpec(
                             group="metrics.k8s.io", version="v1beta1", group_priority_minimum=100,
                             version_priority=100, service=k.ServiceReference(name=identity.name, namespace=NAMESPACE),
                             # Upstream's choice: metrics-server serves a self-signed certificate from --cert-dir.
                             insecure_skip_tls_verify=True))
