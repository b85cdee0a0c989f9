"""Capacity and cost per overlay, from the rendered manifests: dist/<overlay>/CAPACITY.md.

Committed beside the manifests (kustomize does not apply it), so that a pull request shows what a
change costs. The model, stated in the report itself:
- compute: the pods' requests, packed onto node-equivalents of the overlay's node type (whichever of
  CPU and memory needs more), priced at that type's on-demand rate plus EKS Auto Mode's fee;
- block storage: every PVC at its requested size, at the gp3 rate;
- object storage: an estimate from the ingest rates the overlay states and each bucket's retention.
Prices are the seed's pricing facts (CONTEXT.md); the S3 rate is AWS's list price for S3 Standard.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from stackgen.budget import Requests, Workload, applying, replica_range, workloads
from stackgen.settings import Model, duration_seconds, memory_bytes

if TYPE_CHECKING:
    from stackgen.config import StackConfig

HOURS_PER_MONTH = 730
AUTO_MODE_FEE = 0.12
GP3_PER_GB_MONTH = 0.08
# (vCPU, GiB, $/hour) of the seed's node types.
NODE_TYPES = {"t3.small": (2, 2, 0.0208), "t3.medium": (2, 4, 0.0416), "t3.large": (2, 8, 0.0832)}
GIB = 2**30
# The nodes the seed's cost table budgets for every size (CONTEXT.md).
SEED_NODES = 2
TOTAL_LINE = re.compile(r"^\*\*Monthly estimate: \$([0-9.]+) at minimum scale, \$([0-9.]+) at maximum scale\*\*$", re.M)


class Ingest(Model):
    """What the cluster sends, for the object-storage estimate (state your own in the overlay)."""
    logs_gb_per_day: float = Field(1.0, ge=0)
    active_series: int = Field(100_000, ge=0)
    spans_per_second: float = Field(50.0, ge=0)
    # Stored size per unit after compression, typical of each store: Loki chunks about 1/10 of raw
    # logs, Mimir TSDB blocks about 1.5 bytes a sample, Tempo parquet blocks about 200 bytes a span.
    log_compression: float = Field(0.1, gt=0, le=1)
    bytes_per_sample: float = Field(1.5, gt=0)
    bytes_per_span: float = Field(200.0, gt=0)


class CapacityConfig(Model):
    node_type: Literal["t3.small", "t3.medium", "t3.large"] = "t3.medium"
    s3_per_gb_month: float = Field(0.023, gt=0, description="S3 Standard, us-east-1 list price")
    ingest: Ingest = Ingest()


def volumes(manifests: list[dict]) -> dict[str, float]:
    """GiB requested per StorageClass, every claim counted (StatefulSet templates x replicas)."""
    found: dict[str, float] = {}

    def add(spec: dict, count: int) -> None:
        name = spec.get("storageClassName", "(default)")
        found[name] = found.get(name, 0) + memory_bytes(spec["resources"]["requests"]["storage"]) / GIB * count

    for obj in manifests:
        spec = obj.get("spec", {})
        if obj["kind"] == "PersistentVolumeClaim":
            add(spec, 1)
        elif obj["kind"] == "StatefulSet":
            for claim in spec.get("volumeClaimTemplates", []):
                add(claim["spec"], spec.get("replicas", 1))
        elif obj["kind"] in ("Prometheus", "Alertmanager") and "storage" in spec:
            add(spec["storage"]["volumeClaimTemplate"]["spec"], replica_range(obj, manifests, 1)[0])
        elif obj["kind"] == "Elasticsearch":  # ECK's StatefulSets: one claim per node of each nodeSet
            for node_set in spec["nodeSets"]:
                for claim in node_set.get("volumeClaimTemplates", []):
                    add(claim["spec"], node_set["count"])
    return found


def buckets(stack: StackConfig) -> list[tuple[str, str, str, float]]:
    """(bucket, component, retention, estimated GB held) from the overlay's stated ingest."""
    ingest, day = stack.capacity.ingest, 86400
    samples_per_day = ingest.active_series * day / duration_seconds(stack.prometheus.scrape_interval)
    days = {name: duration_seconds(getattr(stack, name).retention) / day for name in ("loki", "tempo", "mimir")}
    return [
        (stack.loki.bucket, "Loki (logs)", stack.loki.retention,
         ingest.logs_gb_per_day * ingest.log_compression * days["loki"]),
        (stack.tempo.bucket, "Tempo (traces)", stack.tempo.retention,
         ingest.spans_per_second * day * ingest.bytes_per_span / 1e9 * days["tempo"]),
        (stack.mimir.blocks_bucket, "Mimir (metric blocks)", stack.mimir.retention,
         samples_per_day * ingest.bytes_per_sample / 1e9 * days["mimir"]),
        (stack.mimir.ruler_bucket, "Mimir (ruler)", "-", 0.0),
    ]


def node_equivalents(total: Requests, node_type: str) -> float:
    vcpu, gib, _ = NODE_TYPES[node_type]
    return max(total.cpu_millicores / 1000 / vcpu, total.memory_bytes / GIB / gib)


def monthly_compute(total: Requests, node_type: str) -> float:
    return node_equivalents(total, node_type) * NODE_TYPES[node_type][2] * HOURS_PER_MONTH * (1 + AUTO_MODE_FEE)


def _sum(items: list[Workload], scale: str, kind: str) -> Requests:
    total = Requests(0, 0)
    for w in items:
        total = total + getattr(w, kind) * (w.pods_min if scale == "min" else w.pods_max)
    return total


def _cpu(r: Requests) -> str:
    return f"{r.cpu_millicores / 1000:.2f}"


def _mem(r: Requests) -> str:
    return f"{r.memory_bytes / GIB:.2f}"


def report(overlay: str, stack: StackConfig, manifests: list[dict], addons: list[dict] | None = None) -> str:
    """`manifests`: the stack's (what its budget holds); `addons`: the platform stage's objects."""
    capacity, nodes = stack.capacity, applying(stack)[0].nodes
    items = sorted(workloads(manifests, nodes), key=lambda w: (w.kind, w.name))
    low, high = _sum(items, "min", "requests"), _sum(items, "max", "requests")
    limits_high = _sum(items, "max", "limits")
    storage = volumes(manifests)
    store = buckets(stack)
    block = sum(storage.values()) * GP3_PER_GB_MONTH
    objects = sum(gb for *_, gb in store) * capacity.s3_per_gb_month
    cost_low = monthly_compute(low, capacity.node_type) + block + objects
    cost_high = monthly_compute(high, capacity.node_type) + block + objects
    lines = [
        f"# Capacity and cost: {overlay}",
        "",
        f"Generated by main.py from overlays/{overlay}.yaml with the rendered manifests; not applied by kustomize.",
        "",
        f"**Monthly estimate: ${cost_low:.2f} at minimum scale, ${cost_high:.2f} at maximum scale**",
        "",
        "## Workloads (pods; CPU in cores, memory in GiB)",
        "",
        "| workload | pods min-max | requests at min (CPU / mem) | requests at max (CPU / mem) | limits at max (CPU / mem) |",
        "|---|---|---|---|---|",
    ]
    for w in items:
        at_min, at_max, lim = w.requests * w.pods_min, w.requests * w.pods_max, w.limits * w.pods_max
        lines.append(f"| {w.kind}/{w.name} | {w.pods_min}-{w.pods_max} | {_cpu(at_min)} / {_mem(at_min)} | "
                     f"{_cpu(at_max)} / {_mem(at_max)} | {_cpu(lim)} / {_mem(lim)} |")
    lines += [f"| **total** | | {_cpu(low)} / {_mem(low)} | {_cpu(high)} / {_mem(high)} | "
              f"{_cpu(limits_high)} / {_mem(limits_high)} |", "",
              "DaemonSets count once per node of the budget "
              f"({nodes}); operator-managed pods include the config-reloader sidecar.", "",
              "## Volumes", "", "| StorageClass | GiB |", "|---|---|"]
    lines += [f"| {name} | {size:.0f} |" for name, size in sorted(storage.items())]
    lines += ["", "## Object storage (estimate)", "",
              f"From the overlay's stated ingest (`capacity.ingest`): {capacity.ingest.logs_gb_per_day:g} GB of logs a "
              f"day, {capacity.ingest.active_series} active series, {capacity.ingest.spans_per_second:g} spans/s.", "",
              "| bucket | holds | retention | estimated GB |", "|---|---|---|---|"]
    lines += [f"| {bucket} | {what} | {retention} | {gb:.1f} |" for bucket, what, retention, gb in store]
    vcpu, gib, rate = NODE_TYPES[capacity.node_type]
    lines += ["", "## Cost model", "",
              "| part | min | max | how |", "|---|---|---|---|",
              f"| compute | ${monthly_compute(low, capacity.node_type):.2f} | ${monthly_compute(high, capacity.node_type):.2f} | "
              f"requests / {capacity.node_type} ({vcpu} vCPU, {gib} GiB; the larger share) x ${rate}/h x "
              f"{HOURS_PER_MONTH} h x (1 + {AUTO_MODE_FEE:.0%} Auto Mode fee): "
              f"{node_equivalents(low, capacity.node_type):.2f} and {node_equivalents(high, capacity.node_type):.2f} node-equivalents |",
              f"| block storage | ${block:.2f} | ${block:.2f} | {sum(storage.values()):.0f} GiB x ${GP3_PER_GB_MONTH}/GB-month (gp3) |",
              f"| object storage | ${objects:.2f} | ${objects:.2f} | estimated GB x ${capacity.s3_per_gb_month}/GB-month, "
              "requests and transfer not included |",
              "", _budgeted_nodes(nodes, capacity.node_type),
              "", "An estimate, not a bill: nodes are shared with the application, the real node count depends on "
              "how the scheduler packs pods, and S3 grows with what the cluster really sends.", ""]
    return "\n".join(lines + platform_addons(addons or []))


def platform_addons(objects: list[dict]) -> list[str]:
    """What the platform stage runs for the whole cluster (dist/<overlay>/platform), outside the stack's
    budget and cost: the workloads it renders, and each HelmRelease's pods as its values size them."""
    from stackgen.components.platform import helm_release_pods  # the platform package renders through cdk8s

    rows = [(f"{w.kind}/{w.name}", w.pods_min, w.requests) for w in workloads(objects, 1)]
    rows += helm_release_pods(objects)
    if not rows:
        return []
    lines = ["## Platform add-ons (outside the budget)", "",
             "What the stack needs and EKS Auto Mode does not run (`platform.<piece>: managed`); shared with the "
             "rest of the cluster, so counted apart from the stack's budget and cost.", "",
             "| workload | pods | requests (CPU / mem) |", "|---|---|---|"]
    lines += [f"| {name} | {pods} | {_cpu(r * pods)} / {_mem(r * pods)} |" for name, pods, r in rows]
    return lines + [""]


def _budgeted_nodes(nodes: int, node_type: str) -> str:
    """What the budget's nodes cost as whole nodes, against the seed's two."""
    node = NODE_TYPES[node_type][2] * HOURS_PER_MONTH * (1 + AUTO_MODE_FEE)
    extra = nodes - SEED_NODES
    return (f"Nodes: the budget holds {nodes} x {node_type}, ${nodes * node:.2f} a month with the Auto Mode fee, "
            f"against ${SEED_NODES * node:.2f} for the seed's {SEED_NODES}: {extra:+d} node(s), "
            f"{'-' if extra < 0 else '+'}${abs(extra) * node:.2f} a month.")


def monthly_totals(text: str) -> tuple[float, float] | None:
    match = TOTAL_LINE.search(text)
    return (float(match.group(1)), float(match.group(2))) if match else None
