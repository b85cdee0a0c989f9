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
from stackgen.components.platform.chart import Chart, install
from stackgen.settings import Resources

CHART = Chart(
    name="external-secrets", version="2.9.0", repository="https://charts.external-secrets.io",
    namespace="external-secrets", component="secrets-operator", main_pod="controller", resources={
        "controller": Resources(cpu_request="20m", memory_request="64Mi", cpu_limit="500m", memory_limit="256Mi"),
        "webhook": Resources(cpu_request="10m", memory_request="32Mi", cpu_limit="200m", memory_limit="128Mi"),
        "certController": Resources(cpu_request="10m", memory_request="32Mi", cpu_limit="200m", memory_limit="128Mi"),
    })
NAMESPACE = CHART.namespace


def values() -> dict:
    """The chart values we set (keys of deploy/charts/external-secrets/values.yaml at helm-chart-2.9.0)."""
    return {"installCRDs": True, **CHART.resource_values(), "serviceMonitor": {"enabled": False}}


class ExternalSecretsOperator(Construct):
    def __init__(self, scope: Construct, instance: str, flux_namespace: str, interval: str):
        super().__init__(scope, "external-secrets-operator")
        install(self, CHART, values(), instance=instance, flux_namespace=flux_namespace, interval=interval)
