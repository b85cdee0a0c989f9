"""An upstream Helm chart the platform stage installs, written once: its own `restricted` namespace, the
Flux HelmRepository and HelmRelease, and the requests and limits we give its pods (the charts ship none;
CAPACITY.md counts them)."""
from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct
from stackgen.budget import Requests
from stackgen.lib.plain import custom_resource
from stackgen.names import PART_OF
from stackgen.settings import Resources, cpu_millicores, memory_bytes

RESTRICTED = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}


@dataclass(frozen=True)
class Chart:
    name: str
    version: str
    repository: str
    namespace: str
    component: str
    # Each long-running pod of the chart, one replica (the charts' default): the top-level values' pod
    # first (`main_pod`), then the others by their values key.
    resources: dict[str, Resources]
    main_pod: str

    def labels(self, instance: str) -> dict[str, str]:
        return {"app.kubernetes.io/name": self.name, "app.kubernetes.io/instance": instance,
                "app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/component": self.component,
                "app.kubernetes.io/version": self.version}

    def resource_values(self) -> dict:
        """`resources` at the top level for the main pod, under each other pod's key for the rest."""
        values = {}
        for part, resources in self.resources.items():
            (values if part == self.main_pod else values.setdefault(part, {}))["resources"] = limits(resources)
        return values

    def release_pods(self, release: dict) -> list[tuple[str, Requests]]:
        """The chart's pods with the requests the release's values give them."""
        values = release["spec"]["values"]
        return [(part, Requests(cpu_millicores(requests["cpu"]), memory_bytes(requests["memory"])))
                for part in self.resources
                for requests in [(values if part == self.main_pod else values[part])["resources"]["requests"]]]


def limits(resources: Resources) -> dict:
    return {"requests": {"cpu": resources.cpu_request, "memory": resources.memory_request},
            "limits": {"cpu": resources.cpu_limit, "memory": resources.memory_limit}}


def install(scope: Construct, chart: Chart, values: dict, *, instance: str, flux_namespace: str, interval: str) -> None:
    """The chart's namespace (Pod Security `restricted`), its HelmRepository and its HelmRelease."""
    labels = chart.labels(instance)
    custom_resource(scope, "Namespace", "v1", "Namespace", {"name": chart.namespace, "labels": {**labels, **RESTRICTED}})
    custom_resource(scope, "HelmRepository", "source.toolkit.fluxcd.io/v1", "HelmRepository",
                    {"name": chart.name, "namespace": flux_namespace, "labels": labels},
                    {"url": chart.repository, "interval": "24h"})
    source = {"chart": chart.name, "version": chart.version,
              "sourceRef": {"kind": "HelmRepository", "name": chart.name, "namespace": flux_namespace}}
    custom_resource(scope, "HelmRelease", "helm.toolkit.fluxcd.io/v2", "HelmRelease",
                    {"name": chart.name, "namespace": flux_namespace, "labels": labels},
                    {"interval": interval, "releaseName": chart.name, "targetNamespace": chart.namespace,
                     "chart": {"spec": source}, "values": values})
