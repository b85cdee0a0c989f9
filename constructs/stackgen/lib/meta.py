"""Names and labels shared by every object: app.kubernetes.io/* and the Prometheus selection label."""
from __future__ import annotations

from dataclasses import dataclass

import cdk8s_plus_37.k8s as k

from stackgen.lib.placement import Placement
from stackgen.names import PART_OF, SELECTION_LABEL, selector


@dataclass(frozen=True)
class Identity:
    """Who an object belongs to: one component of one instance of the stack."""
    name: str
    component: str
    version: str
    instance: str
    namespace: str
    # The nodes its pods must run on (the stack's own NodePool); None: wherever the scheduler puts them.
    placement: Placement | None = None

    @property
    def selector(self) -> dict[str, str]:
        return selector(self.name, self.instance)

    @property
    def labels(self) -> dict[str, str]:
        return {
            **self.selector,
            "app.kubernetes.io/component": self.component,
            "app.kubernetes.io/part-of": PART_OF,
            "app.kubernetes.io/version": self.version,
        }

    @property
    def selection_labels(self) -> dict[str, str]:
        return {**self.labels, SELECTION_LABEL: self.instance}

    def meta(self, name: str | None = None, *, namespaced: bool = True,
             annotations: dict | None = None) -> k.ObjectMeta:
        return k.ObjectMeta(
            name=name or self.name,
            namespace=self.namespace if namespaced else None,
            labels=self.labels,
            annotations=annotations,
        )

    def cluster_name(self) -> str:
        """Name for cluster-scoped objects: unique per namespace so two installs cannot collide."""
        return f"{self.namespace}-{self.name}"
