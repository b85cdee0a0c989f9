"""Flux delivery: dist/flux/<overlay>.yaml, the Kustomizations a cluster repository applies.

Three stages, each waiting for the one before: the CRDs (never pruned: deleting a CRD deletes every
object of its kind), the operators with the namespaces they run in (dist/<overlay>/operators), then the
stack (dist/<overlay>). Flux's kustomize-controller always applies server-side (so the large CRDs and
ConfigMaps are never limited by client-side apply's annotation); `wait` holds each stage until what it
applied is ready, and the stack's health checks add the StatefulSets the operator creates from the
Prometheus and Alertmanager resources, which `wait` cannot see. Objects of the application's namespace
are not here: they come with the application (dist/<overlay>/openemr-sidecar, a Component).

Plain objects rather than typed bindings: importing Flux's CRDs would load one more jsii assembly on
every synth for three objects; they are validated against the pinned Flux CRDs (../shared/crds/flux-v2.9).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from stackgen.names import PART_OF
from stackgen.settings import DnsLabel, GoDuration, Model

if TYPE_CHECKING:
    from stackgen.config import StackConfig

API_VERSION = "kustomize.toolkit.fluxcd.io/v1"
SOURCE_API_VERSIONS = {"GitRepository": "source.toolkit.fluxcd.io/v1", "OCIRepository": "source.toolkit.fluxcd.io/v1"}


class FluxConfig(Model):
    """Where the cluster's Flux finds this repository's dist/."""
    source_kind: Literal["GitRepository", "OCIRepository"] = "GitRepository"
    source_name: DnsLabel = "observability"
    namespace: DnsLabel = "flux-system"
    # dist/ as seen from the source's root.
    path_prefix: str = Field("./dist", pattern=r"^\./[A-Za-z0-9._/-]*[A-Za-z0-9_-]$")
    interval: GoDuration = "10m"
    crds_timeout: GoDuration = "5m"
    operators_timeout: GoDuration = "5m"
    # Ring members wait for their peers and a stable ring before they are ready (README: troubleshooting).
    stack_timeout: GoDuration = "20m"


def _kustomization(stack: StackConfig, stage: str, path: str, *, prune: bool, timeout: str,
                   depends_on: str | None = None, health_checks: list[dict] | None = None,
                   interval: str | None = None) -> dict:
    flux = stack.flux
    spec = {
        "interval": interval or flux.interval,
        "path": path,
        "prune": prune,
        "wait": True,
        "timeout": timeout,
        "sourceRef": {"kind": flux.source_kind, "name": flux.source_name},
    }
    if depends_on:
        spec["dependsOn"] = [{"name": depends_on}]
    if health_checks:
        spec["healthChecks"] = health_checks
    return {"apiVersion": API_VERSION, "kind": "Kustomization",
            "metadata": {"name": f"{stack.namespace}-{stage}", "namespace": flux.namespace,
                         "labels": {"app.kubernetes.io/name": f"{stack.namespace}-{stage}",
                                    "app.kubernetes.io/part-of": PART_OF}},
            "spec": spec}


def operator_statefulsets(manifests: list[dict]) -> list[dict]:
    """The StatefulSets the operator creates: prometheus-<name>[-shard-N] and alertmanager-<name>."""
    checks = []
    for cr in (o for o in manifests if o["kind"] in ("Prometheus", "Alertmanager")):
        name, namespace = cr["metadata"]["name"], cr["metadata"]["namespace"]
        base = f"{cr['kind'].lower()}-{name}"
        shards = cr["spec"].get("shards", 1) if cr["kind"] == "Prometheus" else 1
        names = [base] + [f"{base}-shard-{n}" for n in range(1, shards)]
        checks += [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": n, "namespace": namespace} for n in names]
    return checks


def kustomizations(overlay: str, stack: StackConfig, manifests: list[dict]) -> list[dict]:
    prefix = stack.flux.path_prefix
    crds = _kustomization(stack, "crds", f"{prefix}/crds", prune=False, timeout=stack.flux.crds_timeout, interval="1h")
    operators = _kustomization(stack, "operators", f"{prefix}/{overlay}/operators", prune=True,
                               timeout=stack.flux.operators_timeout, depends_on=crds["metadata"]["name"])
    stack_stage = _kustomization(stack, "stack", f"{prefix}/{overlay}", prune=True, timeout=stack.flux.stack_timeout,
                                 depends_on=operators["metadata"]["name"],
                                 health_checks=operator_statefulsets(manifests))
    return [crds, operators, stack_stage]
