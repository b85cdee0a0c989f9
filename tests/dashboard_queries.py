"""Dashboards as rendered in dist/: read back from the Grafana ConfigMaps, with every target's query
resolved the way Grafana resolves it (variables at their default values, built-in intervals)."""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass

from synthetic import BUILTINS

DASHBOARD_PREFIX = "grafana-dashboard-"


def dashboards(objects: list[dict]) -> dict[str, dict]:
    """uid -> dashboard JSON, from the ConfigMaps Grafana mounts."""
    found = {}
    for obj in objects:
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"].startswith(DASHBOARD_PREFIX):
            for text in obj["data"].values():
                board = json.loads(text)
                found[board["uid"]] = board
    return found


def panels(board: dict) -> list[dict]:
    """Every panel, those inside collapsed rows included."""
    found = []
    for panel in board.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def substitute(text: str, values: dict[str, str]) -> str:
    for name, value in BUILTINS.items():
        text = text.replace(name, value)

    def replace(match: re.Match) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name.isdigit():  # a label_replace capture group: Grafana leaves what names no variable
            return match.group(0)
        if name not in values:
            raise KeyError(f"undefined variable ${name} in {text!r}")
        return values[name]

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]", replace, text)


@dataclass(frozen=True)
class Target:
    board: str
    panel: str
    datasource: str  # uid as written (may be ${datasource})
    expr: str  # resolved
    legend_labels: tuple[str, ...]
    raw: dict

    @property
    def where(self) -> str:
        return f"{self.board} / {self.panel} / {self.raw.get('refId')}"


def datasource_uid(target: dict, panel: dict) -> str:
    return ((target.get("datasource") or panel.get("datasource") or {}).get("uid")) or ""


def resolve_datasource(uid: str, values: dict[str, str]) -> str:
    return values.get(uid[2:-1], uid) if uid.startswith("${") else uid


def targets(board: dict, provisioned: dict[str, str], values: dict[str, str],
            kinds: set[str] | None = None) -> list[Target]:
    """The board's targets on datasources whose type is in `kinds` (provisioned: uid -> type), resolved
    with the variables' `values`."""
    found = []
    for panel in panels(board):
        for target in panel.get("targets", []):
            uid = datasource_uid(target, panel)
            kind = provisioned.get(resolve_datasource(uid, values))
            if kinds is not None and kind not in kinds:
                continue
            expr = target.get("expr") or target.get("query") or ""
            legend = target.get("legendFormat") or ""
            found.append(Target(board["uid"], panel["title"], uid, substitute(expr, values) if expr else "",
                                tuple(re.findall(r"\{\{\s*(\w+)\s*\}\}", legend)), target))
    return found


SERIES_RE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)\{(.*)\}$")
MATCHER_RE = re.compile(r'\s*(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')


@functools.lru_cache(maxsize=None)
def _labels(series: str) -> tuple[str, dict[str, str]]:
    name, inner = SERIES_RE.match(series).groups()
    return name, dict(re.findall(r'(\w+)="([^"]*)"', inner))


def _matches(labels: dict[str, str], matchers: list[tuple[str, str, str]]) -> bool:
    for label, op, value in matchers:
        actual = labels.get(label, "")
        hit = re.fullmatch(value, actual) is not None if "~" in op else actual == value
        if hit == op.startswith("!"):
            return False
    return True


def label_values(query: str, series: dict[str, str]) -> list[str]:
    """What Grafana offers for `label_values(metric{matchers}, label)`: the label's values on the
    matching series, sorted (the variables sort alphabetically)."""
    match = re.fullmatch(r"label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*(?:\{(.*)\})?\s*,\s*(\w+)\s*\)", query.strip())
    if not match:
        raise ValueError(f"variable query {query!r}: only label_values(metric{{...}}, label) is supported")
    metric, selector, label = match.groups()
    matchers = MATCHER_RE.findall(selector or "")
    values = set()
    for text in series:
        name, labels = _labels(text)
        if name == metric and _matches(labels, matchers) and labels.get(label):
            values.add(labels[label])
    return sorted(values)


def resolve_variables(board: dict, series: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Each variable's value as Grafana would open the dashboard: its default when the data offers it,
    else the first value offered. Returns the values and the problems (a default the data lacks, a
    variable that offers nothing)."""
    values, problems = {}, []
    for variable in board.get("templating", {}).get("list", []):
        name, default = variable["name"], (variable.get("current") or {}).get("value", "")
        if variable["type"] == "datasource":
            values[name] = default
            continue
        if variable["type"] == "custom":
            offered = [v.strip() for v in variable["query"].split(",")]
        else:
            query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
            offered = label_values(substitute(query, values), series)
        if default and default not in offered:
            problems.append(f"{board['uid']}: variable {name} defaults to {default!r}, the data offers {offered[:5]}")
        if not offered and name != "cluster":  # no cluster label on Prometheus: empty is right there
            problems.append(f"{board['uid']}: variable {name} offers no value")
        values[name] = default or (offered[0] if offered else "")
    return values, problems


def has_data(expr: str, labels: tuple[str, ...] = ()) -> str:
    """1 when `expr` returns at least one series and every series carries each of `labels`, else 0.
    `X unless on(l) vector(1)` drops the series of X whose label l is empty."""
    carried = f"({expr})" + "".join(f" unless on({label}) vector(1)" for label in labels)
    return f"(count({expr}) == bool count({carried})) or vector(0)"


def metric_of_variable(variable: dict, values: dict[str, str]) -> str:
    """The metric a query variable's label_values() reads ("" for other variables)."""
    if variable.get("type") != "query":
        return ""
    query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
    query = substitute(query, values)
    match = re.match(r"\s*label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)", query)
    return match.group(1) if match else query


def rule_groups(objects: list[dict]) -> list[dict]:
    return [g for o in objects if o["kind"] == "PrometheusRule" for g in o["spec"]["groups"]]
