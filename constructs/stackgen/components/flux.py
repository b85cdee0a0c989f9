"""Flux delivery: dist/flux/<overlay>.yaml, the Kustomizations a cluster repository applies.

Four stages, each waiting for the one before: the CRDs the overlay applies (dist/<overlay>/crds, never
pruned: deleting a CRD deletes every object of its kind), the platform add-ons EKS Auto Mode lacks
(dist/<overlay>/platform), the operators with the namespaces they run in (dist/<overlay>/operators), then
the stack (dist/<overlay>). Flux's kustomize-controller always applies server-side (so the large CRDs and
ConfigMaps are never limited by client-side apply's annotation) and dry-runs a whole stage first, so one
object of a kind not yet served fails the stage (validate checks every kind is served by then).

`wait` holds a stage until what it applied is ready. Flux ignores `healthChecks` when `wait` is on, and
it would take the Prometheus and Alertmanager resources for ready at once (they have no Ready
condition), so the stack says how to read them (`healthCheckExprs`): ready when the operator reports
them Available *for the current generation* (Flux's documented pattern: a condition's observedGeneration
equals metadata.generation; otherwise an upgrade reads as ready on the previous generation's status).
The platform stage instead lists `healthChecks` (with `wait: false`): it may apply nothing and still
have to wait for what the cluster already runs (platform.<piece>: existing). Objects of the
application's namespace are not here: they come with the application (dist/<overlay>/openemr-sidecar).

Plain objects rather than typed bindings: importing Flux's CRDs would load one more jsii assembly on
every synth for a few objects; they are validated against the vendored Flux CRDs (imports/crds/flux-v2.9).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from stackgen.components import platform
from stackgen.components.elk import elasticsearch
from stackgen.names import PART_OF
from stackgen.settings import DnsLabel, GoDuration, Model

if TYPE_CHECKING:
    from stackgen.config import StackConfig

API_VERSION = "kustomize.toolkit.fluxcd.io/v1"


class FluxConfig(Model):
    """Where the cluster's Flux finds this repository's dist/."""
    source_kind: Literal["GitRepository", "OCIRepository"] = "GitRepository"
    # `flux bootstrap` creates GitRepository/flux-system for the repository it bootstraps: dist/ in it.
    source_name: DnsLabel = "flux-system"
    namespace: DnsLabel = "flux-system"
    # dist/ as seen from the source's root.
    path_prefix: str = Field("./dist", pattern=r"^\./[A-Za-z0-9._/-]*[A-Za-z0-9_-]$")
    interval: GoDuration = "10m"
    crds_timeout: GoDuration = "5m"
    # A first install pulls the External Secrets chart and images.
    platform_timeout: GoDuration = "10m"
    operators_timeout: GoDuration = "5m"
    # Ring members wait for their peers and a stable ring before they are ready (README: troubleshooting).
    stack_timeout: GoDuration = "20m"


def _kustomization(stack: StackConfig, stage: str, path: str, *, prune: bool, timeout: str,
                   depends_on: str | None = None, health_exprs: list[dict] | None = None,
                   health_checks: list[dict] | None = None, interval: str | None = None) -> dict:
    flux = stack.flux
    spec = {
        "interval": interval or flux.interval,
        "path": path,
        "prune": prune,
        "wait": health_checks is None,
        "timeout": timeout,
        "sourceRef": {"kind": flux.source_kind, "name": flux.source_name},
    }
    if depends_on:
        spec["dependsOn"] = [{"name": depends_on}]
    if health_exprs:
        spec["healthCheckExprs"] = health_exprs
    if health_checks:
        spec["healthChecks"] = health_checks
    return {"apiVersion": API_VERSION, "kind": "Kustomization",
            "metadata": {"name": f"{stack.namespace}-{stage}", "namespace": flux.namespace,
                         "labels": {"app.kubernetes.io/name": f"{stack.namespace}-{stage}",
                                    "app.kubernetes.io/part-of": PART_OF}},
            "spec": spec}


def _condition(kind: str, status: str) -> str:
    return (f"has(status.conditions) && status.conditions.exists(c, c.type == '{kind}' && c.status == '{status}' "
            "&& c.observedGeneration == metadata.generation)")


# How Flux reads the operator's resources (CEL): the operator sets Available once every replica runs,
# and Reconciled=False when it cannot turn the resource into a StatefulSet.
OPERATED_HEALTH = [{"apiVersion": "monitoring.coreos.com/v1", "kind": kind, "current": _condition("Available", "True"),
                    "failed": _condition("Reconciled", "False")} for kind in ("Alertmanager", "Prometheus")]

# ECK's resources carry no Ready condition either: ECK reports the generation it has acted on, a phase and
# the health it reads from Elasticsearch (pkg/apis/elasticsearch/v1/status.go, common/v1 DeploymentStatus).
# Red is not a failure: a new cluster is red until its primaries are assigned; Invalid never recovers.
_RECONCILED = "has(status.observedGeneration) && status.observedGeneration == metadata.generation"
ECK_HEALTH = [
    {"apiVersion": "elasticsearch.k8s.elastic.co/v1", "kind": "Elasticsearch",
     "current": f"{_RECONCILED} && has(status.phase) && status.phase == 'Ready' && has(status.health) && "
                "status.health == 'green'",
     "failed": "has(status.phase) && status.phase == 'Invalid'"},
    {"apiVersion": "kibana.k8s.elastic.co/v1", "kind": "Kibana",
     "current": f"{_RECONCILED} && has(status.health) && status.health == 'green'",
     "failed": "false"},
]


def kustomizations(overlay: str, stack: StackConfig) -> list[dict]:
    prefix = stack.flux.path_prefix
    crds = _kustomization(stack, "crds", f"{prefix}/{overlay}/crds", prune=False, timeout=stack.flux.crds_timeout,
                          interval="1h")
    platform_stage = _kustomization(stack, "platform", f"{prefix}/{overlay}/platform", prune=True,
                                    timeout=stack.flux.platform_timeout, depends_on=crds["metadata"]["name"],
                                    health_checks=platform.health_checks(stack))
    operators = _kustomization(stack, "operators", f"{prefix}/{overlay}/operators", prune=True,
                               timeout=stack.flux.operators_timeout, depends_on=platform_stage["metadata"]["name"])
    stack_stage = _kustomization(stack, "stack", f"{prefix}/{overlay}", prune=True, timeout=stack.flux.stack_timeout,
                                 depends_on=operators["metadata"]["name"],
                                 health_exprs=OPERATED_HEALTH + (ECK_HEALTH if elasticsearch.enabled(stack) else []))
    return [crds, platform_stage, operators, stack_stage]
