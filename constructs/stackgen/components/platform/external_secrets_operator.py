"""External Secrets Operator, which turns the stack's ExternalSecrets into the Secrets its pods mount.

EKS Auto Mode does not run it. Delivered as a Flux HelmRelease of upstream's chart at the exact
version of the pinned CRDs (2.9.0, https://charts.external-secrets.io), in a namespace of its own that
enforces Pod Security `restricted` (the chart's pods run non-root, read-only, all capabilities
dropped, seccomp RuntimeDefault by default: deploy/charts/external-secrets/values.yaml at
helm-chart-2.9.0). The chart installs and upgrades its own CRDs (`installCRDs`, its default): about
twenty, generators included, and the controller starts a reconciler for each, so they cannot be
trimmed to the three the stack uses (crds.py). Its ServiceMonitors stay off: nothing here would select them.
"""
from __future__ import annotations


from constructs import Construct
from stackgen.lib.plain import custom_resource
from stackgen.names import PART_OF
from stackgen.budget import Requests
from stackgen.settings import Resources, cpu_millicores, memory_bytes

NAMESPACE = "external-secrets"
CHART = "external-secrets"
CHART_VERSION = "2.9.0"
REPOSITORY = "https://charts.external-secrets.io"
# The chart ships no requests or limits (resources: {}); these are ours, and CAPACITY.md counts them.
RESOURCES = {
    "controller": Resources(cpu_request="20m", memory_request="64Mi", cpu_limit="500m", memory_limit="256Mi"),
    "webhook": Resources(cpu_request="10m", memory_request="32Mi", cpu_limit="200m", memory_limit="128Mi"),
    "certController": Resources(cpu_request="10m", memory_request="32Mi", cpu_limit="200m", memory_limit="128Mi"),
}


def _labels(instance: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": CHART, "app.kubernetes.io/instance": instance, "app.kubernetes.io/part-of": PART_OF,
            "app.kubernetes.io/component": "secrets-operator", "app.kubernetes.io/version": CHART_VERSION}


def _resources(resources: Resources) -> dict:
    return {"requests": {"cpu": resources.cpu_request, "memory": resources.memory_request},
            "limits": {"cpu": resources.cpu_limit, "memory": resources.memory_limit}}


def values() -> dict:
    """The chart values we set (keys of deploy/charts/external-secrets/values.yaml at helm-chart-2.9.0)."""
    return {"installCRDs": True,
            "resources": _resources(RESOURCES["controller"]),
            "webhook": {"resources": _resources(RESOURCES["webhook"])},
            "certController": {"resources": _resources(RESOURCES["certController"])},
            "serviceMonitor": {"enabled": False}}


def release_pods(release: dict) -> list[tuple[str, Requests]]:
    """The chart's pods (one replica of each, its default) with the requests the release's values give them."""
    values = release["spec"]["values"]
    return [(part, Requests(cpu_millicores(requests["cpu"]), memory_bytes(requests["memory"])))
            for part in RESOURCES
            for requests in [(values if part == "controller" else values[part])["resources"]["requests"]]]


class ExternalSecretsOperator(Construct):
    def __init__(self, scope: Construct, instance: str, flux_namespace: str, interval: str):
        super().__init__(scope, "external-secrets-operator")
        labels = _labels(instance)
        custom_resource(self, "Namespace", "v1", "Namespace", {
            "name": NAMESPACE, "labels": {**labels, **{f"pod-security.kubernetes.io/{mode}": "restricted"
                                                        for mode in ("enforce", "audit", "warn")}}})
        custom_resource(self, "HelmRepository", "source.toolkit.fluxcd.io/v1", "HelmRepository",
                {"name": CHART, "namespace": flux_namespace, "labels": labels}, {"url": REPOSITORY, "interval": "24h"})
        chart = {"chart": CHART, "version": CHART_VERSION,
                 "sourceRef": {"kind": "HelmRepository", "name": CHART, "namespace": flux_namespace}}
        custom_resource(self, "HelmRelease", "helm.toolkit.fluxcd.io/v2", "HelmRelease",
                {"name": CHART, "namespace": flux_namespace, "labels": labels},
                {"interval": interval, "releaseName": CHART, "targetNamespace": NAMESPACE,
                 "chart": {"spec": chart}, "values": values()})
