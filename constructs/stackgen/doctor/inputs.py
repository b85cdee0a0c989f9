"""What every check reads: the overlay's name and resolved configuration, its stages from the rendered tree,
and the cluster."""
from __future__ import annotations

from dataclasses import dataclass

from stackgen.config import StackConfig
from stackgen.doctor.cluster import Cluster
from stackgen.doctor.tree import Stage


@dataclass(frozen=True)
class Inputs:
    overlay: str
    stages: list[Stage]
    cluster: Cluster
    config: StackConfig

    def first_stage_with(self, kind: str, name: str | None = None) -> tuple[int, Stage] | None:
        """(index, stage) of the first stage applying an object of this kind (and name)."""
        for index, stage in enumerate(self.stages):
            if any(name in (None, (o.get("metadata") or {}).get("name")) for o in stage.of_kind(kind)):
                return index, stage
        return None
