"""Capacity and cost per overlay, from the rendered manifests: dist/<overlay>/CAPACITY.md.

Committed beside the manifests (kustomize does not apply it), so that a pull request shows what a
change costs. The model, stated in the report itself:
- compute: whole nodes of the cheapest instance shape the stack's pool admits (its NodePool, or Auto
  Mode's built-in general-purpose pool) whose budgeted nodes hold the pods' requests with the node agents
  on every node, each pod beside the agents; priced from the dated on-demand table
  (catalog/ec2-on-demand-us-east-1.yaml) plus EKS Auto Mode's management fee;
- block storage: every PVC at its requested size, at the gp3 rate;
- object storage: an estimate from the ingest rates the overlay states and each bucket's retention.
The seed's t3 node-equivalents (CONTEXT.md's pricing facts) stay as a comparison only: Auto Mode's pools
never launch t3. The S3 rate is AWS's list price for S3 Standard.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from stackgen.budget import NOTHING, Requests, Workload, applying, replica_range, workloads
from stackgen.components.platform import instance_prices
from stackgen.components.platform.instance_prices import Price, PriceTable
from stackgen.components.platform.instance_types import BUILT_IN_CATEGORIES, SHAPES, Shape, admitted
from stackgen.components.platform.nodes import allocatable, fits
from stackgen.settings import Model, duration_seconds, memory_bytes

if TYPE_CHECKING:
    from stackgen.config import StackConfig

HOURS_PER_MONTH = 730
GP3_PER_GB_MONTH = 0.08
# The seed's comparison: (vCPU, GiB, $/hour) of its node types and its Auto Mode fee (CONTEXT.md).
SEED_NODE_TYPES = {"t3.small": (2, 2, 0.0208), "t3.medium": (2, 4, 0.0416), "t3.large": (2, 8, 0.0832)}
SEED_AUTO_MODE_FEE = 0.12
GIB = 2**30
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
    # The seed's node type, for the comparison column only (the estimate prices what Auto Mode launches).
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


def seed_node_equivalents(total: Requests, node_type: str) -> float:
    vcpu, gib, _ = SEED_NODE_TYPES[node_type]
    return max(total.cpu_millicores / 1000 / vcpu, total.memory_bytes / GIB / gib)


def seed_monthly(total: Requests, node_type: str) -> float:
    """The seed's way: requests as fractional t3 nodes, plus its 12% fee (the comparison column)."""
    rate = SEED_NODE_TYPES[node_type][2]
    return seed_node_equivalents(total, node_type) * rate * HOURS_PER_MONTH * (1 + SEED_AUTO_MODE_FEE)


@dataclass(frozen=True)
class NodePlan:
    """Whole nodes of one shape: the budget's count at minimum scale, more where maximum scale needs them."""
    shape: Shape
    price: Price  # the cheapest instance type of the shape in the price table
    fee_per_hour: float  # Auto Mode's management fee on it
    nodes_min: int
    nodes_max: int

    def monthly(self, nodes: int) -> tuple[float, float]:
        """(EC2, Auto Mode fee) a month for `nodes` nodes."""
        return nodes * self.price.usd_per_hour * HOURS_PER_MONTH, nodes * self.fee_per_hour * HOURS_PER_MONTH

    def total(self, nodes: int) -> float:
        return sum(self.monthly(nodes))


def pool_shapes(stack: StackConfig) -> list[Shape]:
    """What the stack's pods may land on: its NodePool's sizes, or the built-in pool's (any size; the table's)."""
    nodes = stack.nodes
    if nodes.pool == "dedicated":
        return admitted(list(nodes.instance_categories), nodes.min_cpu, nodes.max_cpu)
    return admitted(BUILT_IN_CATEGORIES, min(s.cpu for s in SHAPES), max(s.cpu for s in SHAPES))


def nodes_needed(pods: Requests, agents: Requests, shape: Shape) -> int:
    """Nodes of `shape` whose room beside one pod of each agent holds `pods`: the least any packing needs."""
    room = allocatable(shape)
    return max(1, math.ceil(pods.cpu_millicores / (room.cpu_millicores - agents.cpu_millicores)),
               math.ceil(pods.memory_bytes / (room.memory_bytes - agents.memory_bytes)))


def agents_per_node(items: list[Workload]) -> Requests:
    """One pod of each node agent (DaemonSet): what every node gives them first."""
    return sum((w.requests for w in items if w.kind == "DaemonSet"), NOTHING)


def node_plan(stack: StackConfig, items: list[Workload], table: PriceTable) -> NodePlan:
    """The cheapest admitted shape on which every pod fits beside the agents and the budget's nodes hold the
    pods at minimum scale; Karpenter launches on-demand nodes at the lowest price (instance_prices.py)."""
    (limit, key), agents = applying(stack), agents_per_node(items)
    nodes = limit.nodes
    pods = [w for w in items if w.kind != "DaemonSet"]
    at_min, at_max = _sum(pods, "min", "requests"), _sum(pods, "max", "requests")
    for shape in sorted(pool_shapes(stack), key=lambda s: (table.cheapest(s).usd_per_hour, s.allocatable_memory_mib)):
        if all(fits(w.requests + agents, shape) for w in pods) and nodes_needed(at_min, agents, shape) <= nodes:
            price = table.cheapest(shape)
            return NodePlan(shape, price, table.fee(price), nodes, max(nodes, nodes_needed(at_max, agents, shape)))
    from stackgen.config import ConfigError  # config imports this module

    raise ConfigError(f"no instance size the pool admits ({', '.join(s.name for s in pool_shapes(stack))}) holds the "
                      f"stack's pods on the {nodes} nodes of {key}.nodes with the node agents beside them; raise "
                      f"{key}.nodes or nodes.max_cpu, or lower the requests")


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
    table = instance_prices.load()
    items = sorted(workloads(manifests, nodes), key=lambda w: (w.kind, w.name))
    plan = node_plan(stack, items, table)
    low, high = _sum(items, "min", "requests"), _sum(items, "max", "requests")
    limits_high = _sum(items, "max", "limits")
    storage = volumes(manifests)
    store = buckets(stack)
    block = sum(storage.values()) * GP3_PER_GB_MONTH
    objects = sum(gb for *_, gb in store) * capacity.s3_per_gb_month
    cost_low = plan.total(plan.nodes_min) + block + objects
    cost_high = plan.total(plan.nodes_max) + block + objects
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
    lines += ["", *nodes_section(stack, plan, table, items, low), "", "## Cost model", "",
              "| part | min | max | how |", "|---|---|---|---|",
              f"| compute | ${plan.total(plan.nodes_min):.2f} | ${plan.total(plan.nodes_max):.2f} | "
              f"{plan.nodes_min} (at maximum scale {plan.nodes_max}) x {plan.price.instance_type} x "
              f"(${plan.price.usd_per_hour:g}/h on demand + ${plan.fee_per_hour:.5f}/h Auto Mode fee) x "
              f"{HOURS_PER_MONTH} h (Nodes above) |",
              f"| block storage | ${block:.2f} | ${block:.2f} | {sum(storage.values()):.0f} GiB x ${GP3_PER_GB_MONTH}/GB-month (gp3) |",
              f"| object storage | ${objects:.2f} | ${objects:.2f} | estimated GB x ${capacity.s3_per_gb_month}/GB-month, "
              "requests and transfer not included |",
              "", seed_comparison(capacity.node_type, nodes, low, high),
              "", "An estimate, not a bill: the real node count depends on how the scheduler packs pods and which "
              "types EC2 has in each zone, and S3 grows with what the cluster really sends.", ""]
    return "\n".join(lines + platform_addons(addons or []))


def platform_addons(objects: list[dict]) -> list[str]:
    """What the platform stage runs for the whole cluster (dist/<overlay>/platform), outside the stack's
    budget and cost: the workloads it renders, and each HelmRelease's pods as its values size them."""
    from stackgen.components.platform import (
        helm_release_pods,  # the platform package renders through cdk8s
    )

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


def nodes_section(stack: StackConfig, plan: NodePlan, table: PriceTable, items: list[Workload],
                  low: Requests) -> list[str]:
    shape, price, room, agents = plan.shape, plan.price, allocatable(plan.shape), agents_per_node(items)
    shapes = ", ".join(s.name for s in sorted(pool_shapes(stack), key=SHAPES.index))
    if stack.nodes.pool == "dedicated":
        pool = (f"the stack's own NodePool (`nodes.pool: dedicated`): on-demand amd64, categories "
                f"{', '.join(stack.nodes.instance_categories)}, generation 5 or newer, sizes {shapes}")
    else:
        used = max(low.cpu_millicores / (room.cpu_millicores * plan.nodes_min),
                   low.memory_bytes / (room.memory_bytes * plan.nodes_min))
        pool = (f"EKS Auto Mode's built-in general-purpose pool (`nodes.pool: shared`): on-demand amd64, categories "
                f"c, m, r, generation 5 or newer, sizes {shapes} priced here. Its nodes are shared with OpenEMR and "
                f"the cluster's other workloads: their whole cost is shown, of which the stack's requests take "
                f"{used:.0%}")
    ec2_low, fee_low = plan.monthly(plan.nodes_min)
    ec2_high, fee_high = plan.monthly(plan.nodes_max)
    return ["## Nodes (what EKS Auto Mode launches)", "",
            f"Pool: {pool}.", "",
            f"Shape: {shape.name} ({shape.cpu} vCPU, {shape.memory_mib / 1024:g} GiB; {room.describe()} allocatable), "
            f"the cheapest size the pool admits on which every pod fits beside one pod of each node agent "
            f"({agents.describe()}) and whose {plan.nodes_min} budgeted nodes hold the pods at minimum scale.", "",
            f"Priced as {price.instance_type}, the cheapest type of that size in "
            f"`constructs/stackgen/catalog/{table.path.name}` (Karpenter asks EC2 for on-demand capacity at the "
            f"lowest price): ${price.usd_per_hour:g}/h, {instance_prices.REGION} on-demand Linux, as of {price.date} "
            f"({price.source}).", "",
            f"EKS Auto Mode management fee: ${plan.fee_per_hour:.5f}/h on {price.instance_type}, "
            f"{table.fee_fraction:.0%} of its on-demand rate. AWS bills the fee per instance type; its table of fees "
            f"was not readable in the sources this project could reach, so the fee is the {table.fee_fraction:.0%} "
            f"rule third parties read off it ({table.fee_source}): an estimate.", "",
            "| scale | nodes | shape | priced as | EC2 a month | Auto Mode fee a month | total a month |",
            "|---|---|---|---|---|---|---|",
            f"| minimum | {plan.nodes_min} | {shape.name} | {price.instance_type} | ${ec2_low:.2f} | ${fee_low:.2f} | "
            f"${ec2_low + fee_low:.2f} |",
            f"| maximum | {plan.nodes_max} | {shape.name} | {price.instance_type} | ${ec2_high:.2f} | ${fee_high:.2f} | "
            f"${ec2_high + fee_high:.2f} |", "",
            "At maximum scale: the nodes of that shape whose room beside the agents holds the pods' requests, at "
            "least the budget's; real packing may need more."]


def seed_comparison(node_type: str, nodes: int, low: Requests, high: Requests) -> str:
    """The seed's t3 figures, which Auto Mode's pools never launch: a comparison, not the estimate."""
    vcpu, gib, rate = SEED_NODE_TYPES[node_type]
    whole = nodes * rate * HOURS_PER_MONTH * (1 + SEED_AUTO_MODE_FEE)
    return (f"Seed comparison (not priced above: Auto Mode's pools never launch t3): the seed priced requests as "
            f"fractional {node_type} nodes ({vcpu} vCPU, {gib} GiB) at ${rate}/h x {HOURS_PER_MONTH} h x "
            f"(1 + {SEED_AUTO_MODE_FEE:.0%}): ${seed_monthly(low, node_type):.2f} at minimum scale "
            f"({seed_node_equivalents(low, node_type):.2f} node-equivalents), ${seed_monthly(high, node_type):.2f} at "
            f"maximum; the budget's {nodes} nodes as {node_type}: ${whole:.2f} a month.")


def monthly_totals(text: str) -> tuple[float, float] | None:
    match = TOTAL_LINE.search(text)
    return (float(match.group(1)), float(match.group(2))) if match else None
