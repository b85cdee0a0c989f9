"""Where the stack's pods run: on the nodes of its own NodePool (nodes.pool: dedicated), or anywhere.

The NodePool (components/platform/nodes.py) labels its nodes and taints them; every pod of the stack's
namespace selects the label and tolerates the taint, so the stack gets those nodes and nothing else lands
on them. The node agents tolerate every taint and run on every node, OpenEMR's included.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stackgen.config import StackConfig

POOL_LABEL = "monitoring.openemr.io/pool"
TAINT_EFFECT = "NoSchedule"


@dataclass(frozen=True)
class Placement:
    pool: str

    @property
    def node_selector(self) -> dict[str, str]:
        return {POOL_LABEL: self.pool}

    @property
    def taint(self) -> dict[str, str]:
        return {"key": POOL_LABEL, "value": self.pool, "effect": TAINT_EFFECT}

    @property
    def toleration(self) -> dict[str, str]:
        return {**self.taint, "operator": "Equal"}


def pool_name(stack: StackConfig) -> str:
    """The NodePool's and NodeClass's name: cluster-scoped, so one per install (namespace and instance)."""
    return f"{stack.namespace}-{stack.instance}"


def placement(stack: StackConfig) -> Placement | None:
    return Placement(pool_name(stack)) if stack.nodes.pool == "dedicated" else None
