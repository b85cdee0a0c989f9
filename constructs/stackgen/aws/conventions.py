"""How discover finds a cluster's resources: tags first, then the naming convention (README: naming and tags).

Each resource the stack needs carries two tags, `monitoring.openemr.io/cluster=<cluster>` and
`monitoring.openemr.io/component=<component>`, or is named `<cluster>-<component>` (the KMS key: alias
`alias/<cluster>-monitoring`). Nothing else is tried: what neither finds is reported, never guessed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CLUSTER_TAG = "monitoring.openemr.io/cluster"
COMPONENT_TAG = "monitoring.openemr.io/component"


@dataclass(frozen=True)
class Wanted:
    kind: Literal["bucket", "role", "kms"]
    component: str  # the component tag's value, and the name's suffix
    key: str  # where the found value goes in the cluster overlay

    def name(self, cluster: str) -> str:
        return f"alias/{cluster}-{self.component}" if self.kind == "kms" else f"{cluster}-{self.component}"

    def looked_for(self, cluster: str) -> str:
        return (f"tags {CLUSTER_TAG}={cluster} and {COMPONENT_TAG}={self.component}, "
                f"or the {'alias' if self.kind == 'kms' else 'name'} {self.name(cluster)}")


WANTED = [
    Wanted("bucket", "loki", "loki.bucket"),
    Wanted("bucket", "tempo", "tempo.bucket"),
    Wanted("bucket", "mimir-blocks", "mimir.blocks_bucket"),
    Wanted("bucket", "mimir-ruler", "mimir.ruler_bucket"),
    Wanted("role", "loki", "loki.role_arn"),
    Wanted("role", "tempo", "tempo.role_arn"),
    Wanted("role", "mimir", "mimir.role_arn"),
    Wanted("role", "grafana", "grafana.role_arn"),
    Wanted("role", "external-secrets", "secrets.role_arn"),
    Wanted("kms", "monitoring", "aws.kms_key_arn"),
]
