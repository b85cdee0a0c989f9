"""The stack's own node layer on EKS Auto Mode: a NodeClass and a NodePool (nodes.pool: dedicated).

Without one, Auto Mode's built-in `general-purpose` pool runs the stack and disrupts it on its own terms:
it consolidates underutilized nodes, with a budget of 10% of nodes, and replaces nodes on drift and
expiry (AWS, "Create a Node Pool for EKS Auto Mode", Disruption). Ring members (Loki, Tempo and Mimir
ingesters, Alertmanager, Prometheus replicas) moved for bin-packing lose their in-memory state each time.
The stack's pool instead:
- consolidates only empty nodes (`WhenEmpty`): a node running a ring member is never drained to save money;
- disrupts one node at a time (budget `nodes: "1"`): drift (a new Auto Mode AMI, about weekly) and expiry
  still replace every node, one by one, each drain held by the rings' PodDisruptionBudgets;
- expires nodes at `expire_after`, which with `termination_grace_period` may not exceed the 21 days Auto
  Mode enforces ("the sum of expireAfter and terminationGracePeriod ... may not exceed 21 days" is the
  API's refusal of a larger NodePool);
- launches on-demand C/M/R instances of generation 5 or newer, amd64 (what the built-in pools launch),
  within `min_cpu`..`max_cpu` vCPUs, in `zones`;
- labels and taints its nodes, and the stack's pods select and tolerate them (lib/placement.py), so
  nothing else lands there; the node agents tolerate every taint and run on every node.

The NodeClass (fields as AWS documents them: node_class_fields.py) names the node IAM role, selects the
subnets and security groups by tag, sizes the ephemeral storage, and sets the network policy agent's
default and its event logs. A custom NodeClass needs an EKS access entry for its role (type EC2, policy
AmazonEKSAutoNodePolicy), an AWS object this stage cannot create (README, EKS Auto Mode).

Auto Mode's own kinds: the cluster serves them, so validate.py counts them served from the start.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from constructs import Construct
from stackgen import budget
from stackgen.lib.plain import custom_resource
from stackgen.components.platform.instance_types import SHAPES, Shape, admitted
from stackgen.lib.meta import Identity
from stackgen.lib.placement import Placement, pool_name
from stackgen.settings import Model, duration_seconds, memory_bytes

if TYPE_CHECKING:
    from stackgen.config import StackConfig

NODE_POOL_API, NODE_CLASS_API = "karpenter.sh/v1", "eks.amazonaws.com/v1"
# "EKS Auto Mode enforces a 21-day maximum node lifetime" (AWS, "Automate cluster infrastructure with EKS
# Auto Mode"); Auto Mode's default terminationGracePeriod is 24h ("Create a Node Pool for EKS Auto Mode").
MAX_LIFETIME_HOURS = 21 * 24
KARPENTER_DURATION = re.compile(r"^([0-9]+(s|m|h))+$")  # the NodePool CRD's pattern, without Never


def hours(duration: str) -> float:
    """A Karpenter duration (e.g. 480h, 1h30m) in hours."""
    return duration_seconds(duration) / 3600


class EphemeralStorage(Model):
    # AWS's defaults and ranges ("Create a Node Class for Amazon EKS").
    size: str = Field("80Gi", pattern=r"^[1-9][0-9]*Gi$")
    iops: int = Field(3000, ge=3000, le=16000)
    throughput: int = Field(125, ge=125, le=1000)


class NodeClassConfig(Model):
    # The node IAM role's name; AWS suggests AmazonEKSAutoNodeRole ("Learn about identity and access in
    # EKS Auto Mode"). It needs an EKS access entry of type EC2 with AmazonEKSAutoNodePolicy.
    role: str = Field("AmazonEKSAutoNodeRole", min_length=1, max_length=64)
    # Subnets by tag: private subnets carry kubernetes.io/role/internal-elb (AWS's NodeClass example, and
    # the tag Auto Mode's load balancing requires on them). Narrow it to the cluster's VPC where an account
    # has several.
    subnet_tags: dict[str, str] = {"kubernetes.io/role/internal-elb": "1"}
    # Security groups by tag; empty: the cluster security group, which EKS tags aws:eks:cluster-name.
    security_group_tags: dict[str, str] = {}
    ephemeral_storage: EphemeralStorage = EphemeralStorage()
    # What the network policy agent does for pods no policy selects; the stack's namespaces deny by
    # default with their own NetworkPolicies either way.
    network_policy: Literal["DefaultAllow", "DefaultDeny"] = "DefaultAllow"
    # The agent's allow/deny decisions logged on the node (exporting them to CloudWatch is not
    # supported on Auto Mode).
    network_policy_event_logs: Literal["Enabled", "Disabled"] = "Disabled"


class NodesConfig(Model):
    """The nodes the stack runs on: its own NodePool (`dedicated`) or Auto Mode's built-in `general-purpose`
    pool, shared with the cluster's other workloads (`shared`)."""
    pool: Literal["dedicated", "shared"] = "shared"
    # Availability zones (topology.kubernetes.io/zone In); empty: every zone of the NodeClass's subnets.
    zones: list[str] = []
    instance_categories: list[Literal["c", "m", "r"]] = ["c", "m", "r"]
    min_cpu: int = Field(2, ge=2)  # Auto Mode launches nothing with 1 vCPU
    max_cpu: int = Field(16, ge=2)
    expire_after: str = Field("480h", pattern=KARPENTER_DURATION.pattern)
    termination_grace_period: str = Field("24h", pattern=KARPENTER_DURATION.pattern)
    consolidate_after: str = Field("10m", pattern=KARPENTER_DURATION.pattern)
    node_class: NodeClassConfig = NodeClassConfig()

    @model_validator(mode="after")
    def _within_auto_mode_limits(self) -> "NodesConfig":
        lifetime = hours(self.expire_after) + hours(self.termination_grace_period)
        if lifetime > MAX_LIFETIME_HOURS:
            raise ValueError(f"expire_after={self.expire_after} plus termination_grace_period="
                             f"{self.termination_grace_period} must not exceed 21 days ({MAX_LIFETIME_HOURS}h): EKS "
                             "Auto Mode's maximum node lifetime")
        if self.min_cpu > self.max_cpu:
            raise ValueError(f"min_cpu={self.min_cpu} must not exceed max_cpu={self.max_cpu}")
        return self


def _requirement(key: str, operator: str, *values: str) -> dict:
    return {"key": key, "operator": operator, "values": list(values)}


def requirements(nodes: NodesConfig) -> list[dict]:
    """Auto Mode's labels (eks.amazonaws.com/*, not Karpenter's karpenter.k8s.aws/*): AWS's table "EKS Auto
    Mode Supported Labels"."""
    found = [
        _requirement("karpenter.sh/capacity-type", "In", "on-demand"),
        _requirement("kubernetes.io/arch", "In", "amd64"),
        _requirement("eks.amazonaws.com/instance-category", "In", *nodes.instance_categories),
        _requirement("eks.amazonaws.com/instance-generation", "Gt", "4"),
        _requirement("eks.amazonaws.com/instance-cpu", "Gt", str(nodes.min_cpu - 1)),
        _requirement("eks.amazonaws.com/instance-cpu", "Lt", str(nodes.max_cpu + 1)),
    ]
    return found + ([_requirement("topology.kubernetes.io/zone", "In", *nodes.zones)] if nodes.zones else [])


def node_class_spec(stack: StackConfig) -> dict:
    config = stack.nodes.node_class
    groups = config.security_group_tags or {"aws:eks:cluster-name": stack.cluster_name}
    return {
        "role": config.role,
        "subnetSelectorTerms": [{"tags": dict(config.subnet_tags)}],
        "securityGroupSelectorTerms": [{"tags": dict(groups)}],
        "ephemeralStorage": config.ephemeral_storage.model_dump(),
        "networkPolicy": config.network_policy,
        "networkPolicyEventLogs": config.network_policy_event_logs,
    }


def node_pool_spec(stack: StackConfig, placement: Placement) -> dict:
    nodes = stack.nodes
    return {
        "template": {
            "metadata": {"labels": placement.node_selector},
            "spec": {
                "nodeClassRef": {"group": NODE_CLASS_API.split("/")[0], "kind": "NodeClass", "name": placement.pool},
                "requirements": requirements(nodes),
                "taints": [placement.taint],
                "expireAfter": nodes.expire_after,
                "terminationGracePeriod": nodes.termination_grace_period,
            },
        },
        "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": nodes.consolidate_after,
                       "budgets": [{"nodes": "1"}]},
    }


class NodeLayer(Construct):
    def __init__(self, scope: Construct, stack: StackConfig):
        super().__init__(scope, "nodes")
        placement = Placement(pool_name(stack))
        # Cluster-scoped; the version is the API's: Auto Mode itself is not versioned by the stack.
        identity = Identity("nodes", "node-layer", "v1", stack.instance, stack.namespace)
        for api_version, kind, spec in ((NODE_CLASS_API, "NodeClass", node_class_spec(stack)),
                                        (NODE_POOL_API, "NodePool", node_pool_spec(stack, placement))):
            custom_resource(self, kind, api_version, kind, {"name": placement.pool, "labels": identity.labels}, spec)


def health_check(stack: StackConfig) -> dict:
    """The platform stage waits for the NodePool to be Ready (its NodeClass resolved role, subnets and
    security groups), so a wrong tag stops delivery there, not as Pending pods in the stack."""
    return {"apiVersion": NODE_POOL_API, "kind": "NodePool", "name": pool_name(stack)}


def fit_problems(stack: StackConfig, manifests: list[dict]) -> list[str]:
    """Every pod of the stack, with one pod of each DaemonSet beside it, must fit the smallest instance the
    NodePool may launch (instance_types.py): otherwise Auto Mode may launch a node the pod never fits."""
    nodes = stack.nodes
    if nodes.pool != "dedicated":
        return []
    shapes = admitted(list(nodes.instance_categories), nodes.min_cpu, nodes.max_cpu)
    if not shapes:
        return [f"nodes.min_cpu={nodes.min_cpu}..max_cpu={nodes.max_cpu} admits no instance size "
                f"({', '.join(sorted({str(s.cpu) for s in SHAPES}, key=int))} vCPUs)"]
    smallest = shapes[0]
    pods = budget.workloads(manifests, nodes=1)
    agents = sum((w.requests for w in pods if w.kind == "DaemonSet"), budget.NOTHING)
    return [f"{w.kind}/{w.name}: requests {w.requests.describe()} plus the node agents' {agents.describe()} do not fit "
            f"{smallest.name} ({allocatable(smallest).describe()} allocatable), the smallest instance "
            f"nodes.min_cpu={nodes.min_cpu} admits; raise nodes.min_cpu or lower the requests"
            for w in pods if w.kind != "DaemonSet" and not fits(w.requests + agents, smallest)]


def allocatable(shape: Shape) -> budget.Requests:
    return budget.Requests(shape.allocatable_millicores, memory_bytes(f"{shape.allocatable_memory_mib}Mi"))


def fits(requests: budget.Requests, shape: Shape) -> bool:
    room = allocatable(shape)
    return requests.cpu_millicores <= room.cpu_millicores and requests.memory_bytes <= room.memory_bytes
