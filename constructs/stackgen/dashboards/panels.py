"""Shared panel, query and variable helpers: every dashboard is a `Board` of `Panel`s built from these.

A dashboard module describes what to show (title, queries, unit, width); this module turns it into
grafana-foundation-sdk builders, lays the panels out on the 24-column grid in reading order, and gives
every panel a stable id. Datasources are referenced by their provisioned uids (grafana.py); a
Prometheus-type panel follows the `datasource` variable (Prometheus, or Mimir for long ranges).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from grafana_foundation_sdk.builders import cloudwatch as cloudwatch_query
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import logs as logs_panel
from grafana_foundation_sdk.builders import loki as loki_query
from grafana_foundation_sdk.builders import nodegraph as nodegraph_panel
from grafana_foundation_sdk.builders import prometheus as prom_query
from grafana_foundation_sdk.builders import stat as stat_panel
from grafana_foundation_sdk.builders import table as table_panel
from grafana_foundation_sdk.builders import tempo as tempo_query
from grafana_foundation_sdk.builders import text as text_panel
from grafana_foundation_sdk.builders import timeseries as timeseries_panel
from grafana_foundation_sdk.builders.common import StackingConfig
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.cloudwatch import CloudWatchQueryMode, MetricEditorMode, MetricQueryType
from grafana_foundation_sdk.models.common import StackingMode
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

# Folders, from the file structure of the mounted dashboards.
KUBERNETES, NODES, STACK, OPENEMR = "Kubernetes", "Nodes", "Observability stack", "OpenEMR"
FOLDERS = (KUBERNETES, NODES, STACK, OPENEMR)
# The provisioned datasources' uids and types (grafana.datasources).
DATASOURCE_TYPES = {"prometheus": "prometheus", "mimir": "prometheus", "loki": "loki", "tempo": "tempo",
                    "alertmanager": "alertmanager", "cloudwatch": "cloudwatch"}
PROM_VARIABLE = "${datasource}"
# Every Prometheus-type selector carries it: empty on Prometheus (no such label there), the external
# `cluster` label on Mimir, which may hold several clusters.
CLUSTER = 'cluster="$cluster"'
GRID_WIDTH = 24


def ref(uid: str) -> model.DataSourceRef:
    return model.DataSourceRef(type_val=DATASOURCE_TYPES.get(uid, "prometheus"), uid=uid)


@dataclass(frozen=True)
class Query:
    """One target. `datasource`: a provisioned uid, or the `datasource` variable for Prometheus-type ones."""
    expr: str
    legend: str = ""
    datasource: str = PROM_VARIABLE
    instant: bool = False
    kind: str = "promql"  # promql | logql | traceql | servicemap | cloudwatch
    # cloudwatch: expr is the metric name; (namespace, statistic, dimension name, dimension value)
    metric: tuple[str, str, str, str] = ("", "", "", "")


def prom(expr: str, legend: str = "", instant: bool = False) -> Query:
    return Query(expr, legend, instant=instant)


def mimir(expr: str, legend: str = "", instant: bool = False) -> Query:
    """Series only Mimir holds (remote-written by Tempo's metrics-generator)."""
    return Query(expr, legend, datasource="mimir", instant=instant)


def logql(expr: str, legend: str = "", instant: bool = False) -> Query:
    return Query(expr, legend, datasource="loki", instant=instant, kind="logql")


def cloudwatch(namespace: str, metric_name: str, statistic: str, dimension: str, value: str,
               legend: str = "") -> Query:
    """A CloudWatch metric of one resource, in the datasource's default region."""
    return Query(metric_name, legend, datasource="cloudwatch", kind="cloudwatch",
                 metric=(namespace, statistic, dimension, value))


def traceql(expr: str) -> Query:
    return Query(expr, datasource="tempo", kind="traceql")


@dataclass(frozen=True)
class Panel:
    kind: str  # timeseries | stat | table | logs | text | nodegraph
    title: str
    description: str
    queries: tuple[Query, ...] = ()
    unit: str = ""
    width: int = 12
    height: int = 8
    content: str = ""  # text panels (markdown)
    links: tuple[tuple[str, str], ...] = ()  # (title, url) data links
    stack: bool = False


def timeseries(title, description, *queries, unit="", width=12, height=8, links=(), stack=False) -> Panel:
    return Panel("timeseries", title, description, queries, unit, width, height, links=tuple(links), stack=stack)


def stat(title, description, *queries, unit="", width=6, height=4) -> Panel:
    return Panel("stat", title, description, queries, unit, width, height)


def table(title, description, *queries, unit="", width=24, height=8, links=()) -> Panel:
    return Panel("table", title, description, queries, unit, width, height, links=tuple(links))


def logs(title, description, query: Query, width=24, height=10) -> Panel:
    return Panel("logs", title, description, (query,), width=width, height=height)


def traces(title, description, query: Query, width=24, height=8) -> Panel:
    return Panel("table", title, description, (query,), width=width, height=height)


def service_map(title, description, width=24, height=12) -> Panel:
    return Panel("nodegraph", title, description, (Query("", datasource="tempo", kind="servicemap"),),
                 width=width, height=height)


def text(title, content, width=24, height=4) -> Panel:
    return Panel("text", title, content.split("\n", 1)[0], (), width=width, height=height, content=content)


@dataclass(frozen=True)
class Row:
    title: str


@dataclass(frozen=True)
class Variable:
    """A query variable on the `datasource` variable; `default` is its value when the dashboard opens."""
    name: str
    label: str
    query: str
    default: str
    include_all: bool = False
    options: tuple[str, ...] = ()  # a fixed list instead of a query (`query` is then unused)


def namespace_var(default: str, selector: str = "kube_pod_info") -> Variable:
    return Variable("namespace", "Namespace", f'label_values({selector}{{{CLUSTER}}}, namespace)', default)


def link_to(uid: str, **variables: str) -> str:
    """A URL to another provisioned dashboard keeping the time range; values may use ${__field.labels.x}."""
    query = "".join(f"&var-{name}={value}" for name, value in variables.items())
    return f"/d/{uid}?${{__url_time_range}}{query}"


@dataclass(frozen=True)
class Board:
    uid: str
    title: str
    folder: str
    description: str
    panels: list[Panel | Row]
    variables: list[Variable] = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # uids of related dashboards
    tags: tuple[str, ...] = ()
    datasource_variable: bool = True  # Prometheus or Mimir
    time_from: str = "now-3h"

    def to_json(self, titles: dict[str, str]) -> dict:
        """`titles`: uid -> title of every provisioned dashboard, for the links."""
        return json.loads(json.dumps(self.build(titles), cls=JSONEncoder))

    def build(self, titles: dict[str, str]) -> model.Dashboard:
        builder = (db.Dashboard(self.title).uid(self.uid).description(self.description)
                   .tags(["stackgen", *self.tags]).time(self.time_from, "now").refresh("1m").timezone("browser")
                   .readonly().tooltip(model.DashboardCursorSync.CROSSHAIR))
        for variable in self._variables():
            builder = builder.with_variable(variable)
        for uid in self.links:
            builder = builder.link(db.DashboardLink(titles[uid]).type(model.DashboardLinkType.LINK)
                                   .url(f"/d/{uid}").keep_time(True).include_vars(False).target_blank(False))
        for panel_id, (item, position) in enumerate(zip(self.panels, _layout(self.panels)), start=1):
            builder = (builder.with_row(db.Row(item.title).id(panel_id).grid_pos(position)) if isinstance(item, Row)
                       else builder.with_panel(_panel(item, panel_id).grid_pos(position)))
        return builder.build()

    def _variables(self) -> list:
        found = []
        if self.datasource_variable:
            found.append(db.DatasourceVariable("datasource").label("Data source").type("prometheus")
                         .regex("/^(Prometheus|Mimir)$/")
                         .current(model.VariableOption(text="Prometheus", value="prometheus", selected=True)))
            found.append(_query_variable(Variable("cluster", "Cluster", "label_values(up, cluster)", "")))
        return found + [_query_variable(v) for v in self.variables]


def _query_variable(variable: Variable):
    if variable.options:
        return (db.CustomVariable(variable.name).label(variable.label).values(",".join(variable.options))
                .current(model.VariableOption(text=variable.default, value=variable.default, selected=True)))
    builder = (db.QueryVariable(variable.name).label(variable.label).datasource(ref(PROM_VARIABLE))
               .query({"query": variable.query, "refId": "variable"})
               .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(model.VariableSort.ALPHABETICAL_ASC)
               .current(model.VariableOption(text=variable.default or "None", value=variable.default,
                                             selected=True)))
    if variable.include_all:
        builder = builder.include_all(True).all_value(".*")
    return builder


def _target(query: Query, ref_id: str):
    if query.kind == "logql":
        target = loki_query.Dataquery().expr(query.expr).legend_format(query.legend)
        target = target.instant(True) if query.instant else target.range(True)
    elif query.kind == "traceql":
        target = tempo_query.TempoQuery().query_type("traceql").query(query.expr).limit(20)
    elif query.kind == "cloudwatch":
        namespace, statistic, dimension, value = query.metric
        target = (cloudwatch_query.CloudWatchMetricsQuery().query_mode(CloudWatchQueryMode.METRICS)
                  .metric_query_type(MetricQueryType.SEARCH).metric_editor_mode(MetricEditorMode.BUILDER)
                  .region("default").namespace(namespace).metric_name(query.expr).statistic(statistic)
                  .dimensions({dimension: value}).match_exact(True).label(query.legend or query.expr))
    elif query.kind == "servicemap":
        target = tempo_query.TempoQuery().query_type("serviceMap")
    else:
        target = prom_query.Dataquery().expr(query.expr).legend_format(query.legend or "__auto")
        target = target.instant().format(PromQueryFormat.TABLE) if query.instant else target.range()
        target = target.exemplar(not query.instant)
    return target.ref_id(ref_id).datasource(ref(query.datasource))


BUILDERS = {"timeseries": timeseries_panel.Panel, "stat": stat_panel.Panel, "table": table_panel.Panel,
            "logs": logs_panel.Panel, "text": text_panel.Panel, "nodegraph": nodegraph_panel.Panel}


def _layout(items: list[Panel | Row]) -> list[model.GridPos]:
    """Reading order on the 24-column grid: a panel that does not fit on the line starts the next one, and
    so does a Row (the SDK's own placement wraps only after a line overflows)."""
    positions, x, y, line_height = [], 0, 0, 0
    for item in items:
        if isinstance(item, Row) or x + item.width > GRID_WIDTH:
            x, y, line_height = 0, y + line_height, 0
        if isinstance(item, Row):
            positions.append(model.GridPos(h=1, w=GRID_WIDTH, x=0, y=y))
            y += 1
            continue
        positions.append(model.GridPos(h=item.height, w=item.width, x=x, y=y))
        x, line_height = x + item.width, max(line_height, item.height)
    return positions


def _panel(panel: Panel, panel_id: int):
    builder = BUILDERS[panel.kind]().id(panel_id).title(panel.title).description(panel.description)
    if panel.queries:
        builder = builder.datasource(ref(panel.queries[0].datasource))
    for index, query in enumerate(panel.queries):
        builder = builder.with_target(_target(query, chr(ord("A") + index)))
    if panel.unit:
        builder = builder.unit(panel.unit)
    if panel.kind == "text":
        builder = builder.content(panel.content)
    if panel.kind == "logs":
        builder = builder.show_time(True).wrap_log_message(True).enable_log_details(True)
    if panel.stack:
        builder = builder.stacking(StackingConfig().mode(StackingMode.NORMAL)).fill_opacity(20)
    if panel.links:
        builder = builder.data_links([db.DashboardLink(title).url(url) for title, url in panel.links])
    return builder
