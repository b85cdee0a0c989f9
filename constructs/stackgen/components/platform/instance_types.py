"""The sizes of the EC2 instances the stack's NodePool admits, and what a pod can request on each.

From Karpenter's instance-type reference at the pinned CRD's tag (aws/karpenter-provider-aws v1.14.1,
website/content/en/docs/reference/instance-types.md): `karpenter.k8s.aws/instance-cpu` and
`instance-memory` (MiB) are the instance's, `cpu` and `memory` under "Resources" what Karpenter computes
as allocatable (capacity less kube-reserved, system-reserved, eviction threshold and VM overhead). Within
the categories the NodePool admits, every Intel family of generation 5, 6 and 7 has the same four numbers
per size (c5/c6i/c7i, m5/m6i/m7i, r5/r6i/r7i all agree there); AMD and newer families have as much
memory per size. EKS Auto Mode does not publish its own reservations: Karpenter's are the estimate.
"""
from __future__ import annotations

from dataclasses import dataclass

SOURCE = ("https://github.com/aws/karpenter-provider-aws/blob/v1.14.1/website/content/en/docs/reference/"
          "instance-types.md")


@dataclass(frozen=True)
class Shape:
    category: str
    size: str
    cpu: int  # vCPU
    memory_mib: int
    allocatable_millicores: int
    allocatable_memory_mib: int

    @property
    def name(self) -> str:
        return f"{self.category}.{self.size}"


SIZES = ("large", "xlarge", "2xlarge", "4xlarge")
# Auto Mode's built-in general-purpose pool launches on-demand amd64 C, M and R instances of generation 5 or
# newer ("Enable or Disable Built-in NodePools"); the stack's own NodePool narrows the categories.
BUILT_IN_CATEGORIES = ["c", "m", "r"]
SHAPES = [Shape(*row) for row in (
    ("c", "large", 2, 4096, 1930, 3114), ("c", "xlarge", 4, 8192, 3920, 6584),
    ("c", "2xlarge", 8, 16384, 7910, 14162), ("c", "4xlarge", 16, 32768, 15890, 27381),
    ("m", "large", 2, 8192, 1930, 6903), ("m", "xlarge", 4, 16384, 3920, 14162),
    ("m", "2xlarge", 8, 32768, 7910, 29317), ("m", "4xlarge", 16, 65536, 15890, 57691),
    ("r", "large", 2, 16384, 1930, 14481), ("r", "xlarge", 4, 32768, 3920, 29317),
    ("r", "2xlarge", 8, 65536, 7910, 59627), ("r", "4xlarge", 16, 131072, 15890, 118312),
)]


def admitted(categories: list[str], min_cpu: int, max_cpu: int) -> list[Shape]:
    """The shapes a NodePool with these requirements may launch, smallest allocatable memory first."""
    return sorted((s for s in SHAPES if s.category in categories and min_cpu <= s.cpu <= max_cpu),
                  key=lambda s: (s.allocatable_memory_mib, s.allocatable_millicores))
