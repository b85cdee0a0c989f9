"""What an overlay requests in total, read from the rendered manifests.

Pods count at their minimum: Deployments at their replicas (or their HPA's minReplicas), DaemonSets
once per budgeted node, operator-managed Prometheus/Alertmanager pods at replicas x shards including
the config-reloader sidecar the operator adds (its requests are read from the operator's flags).
"""
from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from stackgen.settings import Cpu, Memory, Model, cpu_millicores, memory_bytes


class Budget(Model):
    """What the overlay may request in total (the seed's node budget); synthesis refuses more."""
    nodes: int = Field(2, ge=1)
    cpu: Cpu = "4"
    memory: Memory = "8Gi"


@dataclass(frozen=True)
class Requests:
    cpu_millicores: int
    memory_bytes: int

    def __add__(self, other: "Requests") -> "Requests":
        return Requests(self.cpu_millicores + other.cpu_millicores, self.memory_bytes + other.memory_bytes)

    def __mul__(self, count: int) -> "Requests":
        return Requests(self.cpu_millicores * count, self.memory_bytes * count)

    def describe(self) -> str:
        return f"{self.cpu_millicores / 1000:g} CPU / {self.memory_bytes / 2**30:.2f} GiB"


NOTHING = Requests(0, 0)


def _of(resources: dict | None, kind: str = "requests") -> Requests:
    values = (resources or {}).get(kind, {})
    return Requests(cpu_millicores(str(values.get("cpu", "0"))), memory_bytes(str(values.get("memory", "0"))))


def pod_requests(spec: dict, kind: str = "requests") -> Requests:
    """Requests (or limits, `kind="limits"`) of one pod: every container and init container."""
    total = NOTHING
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        total = total + _of(container.get("resources"), kind)
    return total


def reloader_requests(manifests: list[dict], which: str = "request") -> Requests:
    """What the operator gives the config-reloader sidecar of each Prometheus/Alertmanager pod (its flags)."""
    flags = {}
    for obj in manifests:
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == "prometheus-operator":
            for arg in obj["spec"]["template"]["spec"]["containers"][0].get("args", []):
                name, _, value = arg.partition("=")
                flags[name] = value
    return Requests(cpu_millicores(flags.get(f"--config-reloader-cpu-{which}", "0")),
                    memory_bytes(flags.get(f"--config-reloader-memory-{which}", "0")))


def _hpa_minimum(manifests: list[dict], kind: str, name: str) -> int | None:
    for obj in manifests:
        target = obj.get("spec", {}).get("scaleTargetRef", {}) if obj["kind"] == "HorizontalPodAutoscaler" else {}
        if target.get("kind") == kind and target.get("name") == name:
            return obj["spec"].get("minReplicas", 1)
    return None


def total_requests(manifests: list[dict], nodes: int) -> dict[str, Requests]:
    """Requests per workload (`Kind/name`) at minimum scale."""
    reloader = reloader_requests(manifests)
    totals: dict[str, Requests] = {}
    for obj in manifests:
        kind, name, spec = obj["kind"], obj["metadata"]["name"], obj.get("spec", {})
        minimum = _hpa_minimum(manifests, kind, name)
        if kind in ("Deployment", "StatefulSet"):
            totals[f"{kind}/{name}"] = pod_requests(spec["template"]["spec"]) * (minimum or spec.get("replicas", 1))
        elif kind == "DaemonSet":
            totals[f"{kind}/{name}"] = pod_requests(spec["template"]["spec"]) * nodes
        elif kind == "Prometheus":
            pods = spec.get("replicas", 1) * (minimum or spec.get("shards", 1))
            totals[f"{kind}/{name}"] = (_of(spec.get("resources")) + reloader) * pods
        elif kind == "Alertmanager":
            totals[f"{kind}/{name}"] = (_of(spec.get("resources")) + reloader) * (minimum or spec.get("replicas", 1))
    return totals


def overall(manifests: list[dict], nodes: int) -> Requests:
    total = NOTHING
    for requests in total_requests(manifests, nodes).values():
        total = total + requests
    return total
