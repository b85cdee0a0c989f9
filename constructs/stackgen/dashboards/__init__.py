"""Dashboards as code: every dashboard Grafana provisions, one module per family.

Each family module has `boards(stack) -> list[Board]` (panels.py builds them). `render` returns the
dashboards as JSON files by folder; grafana.py puts each in its own ConfigMap and mounts them where
Grafana's file provider reads folders from the directory structure.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stackgen.dashboards import (
    kubernetes,
    log_searches,
    networking,
    nodes,
    openemr,
    openemr_usage,
    stack_elasticsearch,
    stack_logs,
    stack_metrics,
    stack_traces,
)
from stackgen.dashboards.panels import FOLDERS, PROM_VARIABLE, Board, Panel

if TYPE_CHECKING:
    from stackgen.config import StackConfig

# Each dashboard's ConfigMap: this prefix and its uid.
CONFIG_MAP_PREFIX = "grafana-dashboard-"
FAMILIES = (kubernetes, networking, nodes, stack_metrics, stack_logs, stack_elasticsearch, stack_traces, openemr,
            openemr_usage, log_searches)


@dataclass(frozen=True)
class DashboardFile:
    folder: str
    uid: str
    text: str

    @property
    def path(self) -> str:
        return f"{self.folder}/{self.uid}.json"


def boards(stack: StackConfig) -> list[Board]:
    found = [board for family in FAMILIES for board in family.boards(stack)]
    uids = [board.uid for board in found]
    duplicates = sorted({uid for uid in uids if uids.count(uid) > 1})
    assert not duplicates, f"dashboard uids used twice: {duplicates}"
    assert {board.folder for board in found} <= set(FOLDERS), "a dashboard outside the known folders"
    return found


def _uses_only(panel, datasources: set[str]) -> bool:
    return not isinstance(panel, Panel) or all(q.datasource in datasources | {PROM_VARIABLE} for q in panel.queries)


def available(found: list[Board], datasources: set[str]) -> list[Board]:
    """The boards without the panels whose datasource this overlay does not provision (Loki, with logs in
    Elasticsearch only); a board left with no query at all is dropped."""
    kept = []
    for board in found:
        board_panels = [p for p in board.panels if _uses_only(p, datasources)]
        if any(isinstance(p, Panel) and p.queries for p in board_panels):
            kept.append(dataclasses.replace(board, panels=board_panels))
    return kept


def render(stack: StackConfig, datasources: set[str]) -> list[DashboardFile]:
    """`datasources`: the uids Grafana provisions in this overlay."""
    found = available(boards(stack), datasources)
    kept = {board.uid for board in found}
    found = [dataclasses.replace(board, links=[uid for uid in board.links if uid in kept]) for board in found]
    titles = {board.uid: board.title for board in found}
    return [DashboardFile(board.folder, board.uid, json.dumps(board.to_json(titles), indent=1, sort_keys=True))
            for board in found]
