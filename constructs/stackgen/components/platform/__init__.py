"""The platform stage: what the stack needs from the cluster and EKS Auto Mode does not run.

Each piece is `managed` (rendered into dist/<overlay>/platform/, applied by Flux before the operators
and the stack) or `existing` (the cluster already runs it: nothing is rendered, and the stage waits until
what the stack needs of it is there, so the stack is never dry-run before its kinds exist):

| piece | what the stack needs of it | managed | existing: the stage waits for |
|---|---|---|---|
| `metrics_server` | `metrics.k8s.io`, which every HPA reads | metrics-server (metrics_server.py) | the APIService |
| `external_secrets` | the ExternalSecret and ClusterSecretStore kinds (with `secrets.provider: aws`) | a HelmRelease of its chart | their CRDs |
| `cert_manager` | Certificates issued and renewed (every listener's TLS, lib/tls.py) | a HelmRelease of its chart (its CRDs: the CRD stage) | its webhook's Deployment |

Also here, both cluster-scoped and EKS Auto Mode's own: the stack's node layer (`nodes.pool: dedicated`:
a NodeClass and a NodePool, nodes.py; the stage waits for the NodePool to be Ready), and the
`amazon-vpc-cni` ConfigMap that turns NetworkPolicy enforcement on (`network.policy_controller: manage`,
vpc_cni.py).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from constructs import Construct
from stackgen import crds
from stackgen.budget import Requests
from stackgen.components.platform import cert_manager, external_secrets_operator
from stackgen.components.platform.cert_manager import CertManager
from stackgen.components.platform.external_secrets_operator import ExternalSecretsOperator
from stackgen.components.platform.metrics_server import API_SERVICE, MetricsServer
from stackgen.components.platform.metrics_server import NAMESPACE as METRICS_SERVER_NAMESPACE
from stackgen.components.platform.nodes import NodeLayer
from stackgen.components.platform.nodes import health_check as node_pool_health_check
from stackgen.components.platform.vpc_cni import NetworkPolicyController
from stackgen.context import Context
from stackgen.settings import Model

if TYPE_CHECKING:
    from stackgen.config import StackConfig

Mode = Literal["managed", "existing"]


class PlatformConfig(Model):
    metrics_server: Mode = "managed"
    external_secrets: Mode = "managed"
    # `existing`: cert-manager already runs (its chart's default names: namespace and Deployments
    # `cert-manager`), with CRDs of v1.21.1 or newer that the CRD stage would otherwise apply.
    cert_manager: Mode = "managed"


def needs_external_secrets(stack: StackConfig) -> bool:
    return stack.secrets.provider == "aws"


class Platform(Construct):
    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, "platform")
        stack = ctx.config
        if stack.platform.metrics_server == "managed":
            MetricsServer(self, stack.instance)
        if needs_external_secrets(stack) and stack.platform.external_secrets == "managed":
            ExternalSecretsOperator(self, stack.instance, stack.flux.namespace, stack.flux.interval)
        if stack.platform.cert_manager == "managed":
            CertManager(self, stack.instance, stack.flux.namespace, stack.flux.interval)
        if stack.nodes.pool == "dedicated":
            NodeLayer(self, stack)
        if stack.network.policy_controller == "manage":
            NetworkPolicyController(self)


def health_checks(stack: StackConfig) -> list[dict]:
    """What the platform stage waits for (Flux `healthChecks`, read with `wait: false`): every managed
    piece's workload ready, every existing piece's API served."""
    checks = []
    if stack.platform.metrics_server == "managed":
        checks.append({"apiVersion": "apps/v1", "kind": "Deployment", "name": "metrics-server",
                       "namespace": METRICS_SERVER_NAMESPACE})
    else:
        checks.append({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "name": API_SERVICE})
    if needs_external_secrets(stack):
        if stack.platform.external_secrets == "managed":
            checks.append({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                           "name": "external-secrets", "namespace": stack.flux.namespace})
        else:
            checks += [{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "name": name}
                       for kind in ("ExternalSecret", "ClusterSecretStore")
                       for name in crds.for_kind("external-secrets.io/v1", kind)]
    if stack.platform.cert_manager == "managed":
        checks.append({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                       "name": cert_manager.CHART.name, "namespace": stack.flux.namespace})
    else:  # its kinds, and the webhook that admits every Certificate, before the first one is applied
        checks += [{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "name": name}
                   for kind in ("Certificate", "ClusterIssuer") for name in crds.for_kind("cert-manager.io/v1", kind)]
        checks.append({"apiVersion": "apps/v1", "kind": "Deployment", "name": "cert-manager-webhook",
                       "namespace": cert_manager.NAMESPACE})
    if stack.nodes.pool == "dedicated":
        checks.append(node_pool_health_check(stack))
    return checks


def helm_release_pods(objects: list[dict]) -> list[tuple[str, int, Requests]]:
    """The pods the stage's HelmReleases run, as their values size them (CAPACITY.md's platform add-ons)."""
    charts = {chart.name: chart for chart in (external_secrets_operator.CHART, cert_manager.CHART)}
    return [(f"HelmRelease/{release['metadata']['name']} {part}", 1, requests)
            for release in objects if release["kind"] == "HelmRelease"
            for chart in [charts[release["spec"]["chart"]["spec"]["chart"]]]
            for part, requests in chart.release_pods(release)]
