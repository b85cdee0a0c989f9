"""cert-manager, which issues and renews the stack's TLS certificates (lib/tls.py, components/tls.py).

EKS Auto Mode does not run it. Delivered as a Flux HelmRelease of upstream's chart at the version of the
vendored CRDs (v1.21.1, https://charts.jetstack.io), in a namespace of its own that enforces Pod Security
`restricted` (the chart's pods run non-root, read-only, all capabilities dropped, seccomp RuntimeDefault
by default: deploy/charts/cert-manager/values.yaml). The CRD stage applies its CRDs from dist/crds
(`crds.enabled: false`, the chart's default), so an upgrade of them is a reviewed file change and the
stack's Certificates are never dry-run before their kind exists.
"""
from __future__ import annotations

from constructs import Construct
from stackgen.components.platform.chart import Chart, install, limits
from stackgen.settings import Resources

CHART = Chart(
    name="cert-manager", version="v1.21.1", repository="https://charts.jetstack.io",
    namespace="cert-manager", component="certificate-manager", main_pod="controller", resources={
        "controller": Resources(cpu_request="20m", memory_request="64Mi", cpu_limit="500m", memory_limit="256Mi"),
        "webhook": Resources(cpu_request="10m", memory_request="32Mi", cpu_limit="200m", memory_limit="128Mi"),
        "cainjector": Resources(cpu_request="10m", memory_request="64Mi", cpu_limit="200m", memory_limit="256Mi"),
    })
NAMESPACE = CHART.namespace
# The post-install check Job: it runs once per install or upgrade and exits (not a long-running pod).
STARTUP_CHECK = Resources(cpu_request="10m", memory_request="32Mi", cpu_limit="100m", memory_limit="64Mi")


def values() -> dict:
    """The chart values we set (keys of deploy/charts/cert-manager/values.yaml at v1.21.1)."""
    return {"crds": {"enabled": False, "keep": True}, **CHART.resource_values(),
            "startupapicheck": {"resources": limits(STARTUP_CHECK)}}


class CertManager(Construct):
    def __init__(self, scope: Construct, instance: str, flux_namespace: str, interval: str):
        super().__init__(scope, "cert-manager")
        install(self, CHART, values(), instance=instance, flux_namespace=flux_namespace, interval=interval)
