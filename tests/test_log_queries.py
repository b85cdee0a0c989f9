"""Every LogQL target of every dashboard in dist/ selects only stream labels our shippers attach, and on
OpenEMR's logs gets OpenEMR's real log lines through each of its stages (tests/logql_check.py), with the
variables at the values Grafana opens the dashboard with."""
from __future__ import annotations

import re
import shutil

import pytest
from conftest import DIST, ROOT
from dashboard_queries import dashboards, panels, resolve_variables, targets
from logql_check import check
from logql_shippers import FIXTURES, entries, label_names, shippers
from synthetic import all_series

from stackgen.config import load_overlay
from stackgen.validate import load_tree

LOG_SEARCHES = "openemr-log-searches"
# Apache's combined LogFormat, PHP's error_log line and Apache 2.4's error-log line, written out as the
# formats define them (independent of the dashboards' pattern), to keep the fixtures honest.
FORMATS = {
    "access.log": r'\S+ \S+ \S+ \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "[A-Z]+ \S+ HTTP/[\d.]+" '
                  r'\d{3} (\d+|-) "[^"]*" "[^"]*"',
    "error.log": r"\[[A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2}\.\d{6} \d{4}\] \[\w*:\w+\] \[pid \d+(:tid \d+)?\] .+",
    "php_errors.log": r"(\[\d{2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2}:\d{2} \w+\] .+|Stack trace:|#\d+ .+|  thrown in .+)",
}


@pytest.fixture(scope="module")
def series():
    return all_series()


def app_namespace(overlay: str) -> str:
    return load_overlay(ROOT / "overlays" / f"{overlay}.yaml").config.app_namespace


def has_logql(board) -> bool:
    return any((t.get("datasource") or p.get("datasource") or {}).get("type") == "loki"
               for p in panels(board) for t in p.get("targets", []))


def loki_targets(objects, series):
    found = []
    for board in filter(has_logql, dashboards(objects).values()):
        values = resolve_variables(board, series)[0]
        found += targets(board, {"loki": "loki"}, values, {"loki"})
    return found


def problems_of(overlay, objects, series):
    found, namespace = shippers(DIST / overlay), app_namespace(overlay)
    return {t.where: check(t.expr, found, namespace) for t in loki_targets(objects, series)}


def test_every_logql_target_selects_shipped_labels_and_matches_openemrs_lines(overlay, objects, series):
    problems = problems_of(overlay, objects, series)
    # Where OpenEMR's log files are shipped, its boards and the log searches query them.
    assert len(problems) >= (20 if (DIST / overlay / "openemr-sidecar").exists() else 1)
    assert not {where: found for where, found in problems.items() if found}


def test_without_the_sidecar_no_panel_queries_openemrs_log_files(series):
    """The image writes its Apache and PHP logs to files: the node DaemonSet never sees them."""
    clinic = load_tree(DIST / "clinic")
    assert not (DIST / "clinic" / "openemr-sidecar").exists()
    assert not [t.where for t in loki_targets(clinic, series) if "log_file" in t.expr]
    searches = dashboards(clinic)[LOG_SEARCHES]
    assert any("does not ship" in p.get("options", {}).get("content", "") for p in panels(searches))


def test_the_label_set_is_the_rendered_configs(overlay):
    names = label_names(shippers(DIST / overlay))
    assert {"job", "cluster", "namespace", "pod", "container", "app"} <= names
    sidecar = (DIST / overlay / "openemr-sidecar").exists()
    assert ("log_file" in names) == sidecar


def target_of(objects, series, panel_title: str) -> str:
    [target] = [t for t in loki_targets(objects, series) if t.board == LOG_SEARCHES and t.panel == panel_title]
    return target.expr


SIDECAR = "large"  # the overlay that ships OpenEMR's log files


@pytest.fixture(scope="module")
def shipped():
    return load_tree(DIST / SIDECAR)


@pytest.fixture(scope="module")
def five_xx(shipped, series) -> str:
    """The log search for 5xx responses, as Grafana runs it."""
    return target_of(shipped, series, "1. High severity errors (5xx)")


@pytest.mark.parametrize("name, mutate, expected", [
    ("a stream label no shipper attaches", lambda q: q.replace("container=", "kubernetes_container_name=", 1),
     "no shipper attaches"),
    ("a fixed label with a value no shipper sets", lambda q: q.replace("{", '{job="promtail", ', 1), "job='promtail'"),
    ("a line filter no OpenEMR line matches",
     lambda q: q.replace('| line_format "{{.log}}"', '| line_format "{{.log}}" |= "GET /wp-login.php"', 1),
     "gets no sample line through"),
    ("a label filter on a label nothing extracts", lambda q: q.replace('status=~"5.."', 'code=~"5.."'),
     "no earlier stage extracts"),
    ("a pattern for another format", lambda q: q.replace("[<_>]", "{<_>}", 1), "gets no sample line through"),
    ("a metric query over lines a numeric filter could not read",
     lambda q: "sum(count_over_time(" + q.replace('| status=~"5.."', "| size > 1000") + " [1m]))", "__error__"),
    ("grouping by a label no line carries", lambda q: f"sum by (route) (count_over_time({q} [1m]))", "groups by 'route'"),
])
def test_a_broken_query_is_caught(five_xx, name, mutate, expected):
    query = five_xx
    assert check(query, shippers(DIST / SIDECAR), "openemr") == []
    found = check(mutate(query), shippers(DIST / SIDECAR), "openemr")
    assert any(expected in problem for problem in found), (name, found)


def test_a_sidecar_label_is_known_only_where_the_sidecar_is_rendered(five_xx):
    assert 'log_file="/var/log/apache2/access.log"' in five_xx
    assert check(five_xx, shippers(DIST / SIDECAR), "openemr") == []
    assert any("log_file" in p for p in check(five_xx, shippers(DIST / "clinic"), "openemr"))


def test_renaming_a_label_in_the_rendered_config_breaks_the_queries_that_use_it(five_xx, tmp_path):
    shutil.copytree(DIST / SIDECAR, tmp_path / SIDECAR)
    for config in (tmp_path / SIDECAR).rglob("fluent-bit*.yaml"):
        config.write_text(re.sub(r"\bcontainer=", "k8s_container=", config.read_text()))
    found = check(five_xx, shippers(tmp_path / SIDECAR), "openemr")
    assert any("'container'" in p for p in found), found


def test_the_fixtures_are_in_openemrs_real_formats():
    for name, form in FORMATS.items():
        lines = (FIXTURES / name).read_text().splitlines()
        assert lines and all(re.fullmatch(form, line) for line in lines), name


def test_a_php_stack_trace_reaches_loki_as_one_entry_with_its_error():
    """The sidecar's php_error multiline parser, as rendered, joins the trace to its first line."""
    [sidecar] = [s for s in shippers(DIST / "large") if "log_file" in s.label_keys]
    fatal = [e.line for e in entries(sidecar, "openemr") if "PHP Fatal error" in e.line and "php_errors" in e.labels["log_file"]]
    assert fatal and all("\\nStack trace:\\n#0" in line for line in fatal), fatal


def test_the_log_searches_board_holds_the_documents_15_searches(shipped):
    board = dashboards(shipped)[LOG_SEARCHES]
    numbered = {int(p["title"].split(".")[0]): p for p in panels(board) if re.match(r"\d+\. ", p["title"])}
    assert sorted(numbered) == list(range(1, 16))
    for number, panel in numbered.items():
        if panel["type"] == "text":
            assert "Not answerable" in panel["options"]["content"], number
        else:
            assert panel["type"] in ("logs", "table") and panel["targets"][0]["datasource"]["uid"] == "loki", number
