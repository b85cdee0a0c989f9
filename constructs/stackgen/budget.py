"""What an overlay requests in total, read from the rendered manifests.

Pods count at their minimum: Deployments at their replicas (or their HPA's minReplicas), DaemonSets
once per budgeted node, operator-managed Prometheus/Alertmanager pods at replicas x shards including
the config-reloader sidecar the operator adds (its requests are read from the operator's flags).
"""
from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from stackgen.components.elk import eck_model
from stackgen.settings import Cpu, Memory, Model, cpu_millicores, memory_bytes


class Budget(Model):
    """What the overlay may request in total (the seed's node budget); synthesis refuses more."""
    nodes: int = Field(2, ge=1)
    cpu: Cpu = "4"
    memory: Memory = "8Gi"


def applying(stack) -> tuple[Budget, str]:
    """The budget an overlay is held to, and its key: `logs.budget` while Elasticsearch runs, when set."""
    if stack.logs.backend in ("elasticsearch", "both") and stack.logs.budget is not None:
        return stack.logs.budget, "logs.budget"
    return stack.budget, "budget"


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


@dataclass(frozen=True)
class Workload:
    name: str
    kind: str
    pods_min: int
    pods_max: int
    requests: Requests  # one pod
    limits: Requests  # one pod


def _hpa(manifests: list[dict], kind: str, name: str) -> dict | None:
    return next((o["spec"] for o in manifests if o["kind"] == "HorizontalPodAutoscaler"
                 and o["spec"]["scaleTargetRef"]["kind"] == kind and o["spec"]["scaleTargetRef"]["name"] == name), None)


def replica_range(obj: dict, manifests: list[dict], nodes: int) -> tuple[int, int]:
    """Pods of a workload at its minimum and maximum scale (HPA bounds, DaemonSets once per node)."""
    kind, spec = obj["kind"], obj.get("spec", {})
    if kind == "DaemonSet":
        return nodes, nodes
    hpa = _hpa(manifests, kind, obj["metadata"]["name"])
    copies = spec.get("replicas", 1) if kind == "Prometheus" else 1
    scaled = spec.get("shards", 1) if kind == "Prometheus" else spec.get("replicas", 1)
    low, high = (hpa.get("minReplicas", 1), hpa["maxReplicas"]) if hpa else (scaled, scaled)
    return copies * low, copies * high


def workloads(manifests: list[dict], nodes: int) -> list[Workload]:
    """Every pod-running object with its per-pod requests and limits and its replica range."""
    reloader_req, reloader_lim = reloader_requests(manifests, "request"), reloader_requests(manifests, "limit")
    found = []
    for obj in manifests:
        kind, spec = obj["kind"], obj.get("spec", {})
        if kind in ("Deployment", "StatefulSet", "DaemonSet"):
            pod = spec["template"]["spec"]
            requests, limits = pod_requests(pod, "requests"), pod_requests(pod, "limits")
        elif kind in ("Elasticsearch", "Kibana"):  # ECK's pods: the podTemplate's main container
            for role, _, _, pod in eck_model.pods(obj):
                count = next((n["count"] for n in spec.get("nodeSets", []) if n["name"] == role), spec.get("count", 1))
                found.append(Workload(f"{obj['metadata']['name']}-{role}", kind, count, count,
                                      pod_requests(pod, "requests"), pod_requests(pod, "limits")))
            continue
        elif kind in ("Prometheus", "Alertmanager"):
            pod = {"containers": [{"resources": spec.get("resources", {})}]}
            requests, limits = pod_requests(pod, "requests") + reloader_req, pod_requests(pod, "limits") + reloader_lim
        else:
            continue
        low, high = replica_range(obj, manifests, nodes)
        found.append(Workload(obj["metadata"]["name"], kind, low, high, requests, limits))
    return found


def total_requests(manifests: list[dict], nodes: int) -> dict[str, Requests]:
    """Requests per workload (`Kind/name`) at minimum scale."""
    return {f"{w.kind}/{w.name}": w.requests * w.pods_min for w in workloads(manifests, nodes)}


def overall(manifests: list[dict], nodes: int) -> Requests:
    total = NOTHING
    for requests in total_requests(manifests, nodes).values():
        total = total + requests
    return total
