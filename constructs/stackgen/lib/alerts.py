"""An alerting or a recording rule as the rule modules write it (rendered into PrometheusRules)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    severity: str
    summary: str
    description: str
    for_: str = "5m"


@dataclass(frozen=True)
class Record:
    name: str
    expr: str
