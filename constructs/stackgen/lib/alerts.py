"""An alerting or a recording rule as the rule modules write it (rendered into PrometheusRules).

An alert that compares against a number declares it as `threshold` and writes `$threshold` where it
goes in the expression (and, formatted by `unit`, in the summary or description): an overlay replaces
it with `alerting.overrides.<Name>.threshold`, and nothing else of the expression changes.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

TOKEN = "$threshold"
# Adds the pod's node to a per-pod alert, so that a node-down alert can inhibit it.
ON_NODE = "* on (namespace, pod) group_left (node) max by (namespace, pod, node) (kube_pod_info)"


def number(value: float) -> str:
    return f"{value:.10g}"


UNITS = {
    "ratio": lambda v: f"{number(v * 100)}%",
    "seconds": lambda v: f"{number(v)}s",
    "hours": lambda v: f"{number(v)}h",
    "": number,
}


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    severity: str
    summary: str
    description: str
    for_: str = "5m"
    threshold: float | None = None
    unit: str = ""

    def __post_init__(self):
        if (self.threshold is None) == (TOKEN in self.expr):
            raise ValueError(f"{self.name}: a threshold and a {TOKEN} in the expression go together")
        if self.unit not in UNITS:
            raise ValueError(f"{self.name}: unit {self.unit!r} is none of {sorted(UNITS)}")

    def with_threshold(self, value: float) -> "Alert":
        return dataclasses.replace(self, threshold=value)

    def rendered(self) -> tuple[str, str, str]:
        """expr, summary and description with the threshold written in."""
        if self.threshold is None:
            return self.expr, self.summary, self.description
        text = UNITS[self.unit](self.threshold)
        return (self.expr.replace(TOKEN, number(self.threshold)), self.summary.replace(TOKEN, text),
                self.description.replace(TOKEN, text))


@dataclass(frozen=True)
class Record:
    name: str
    expr: str
