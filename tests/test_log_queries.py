"""Every LogQL target of every dashboard in dist/ selects only stream labels our shippers attach, and on
OpenEMR's logs gets OpenEMR's real log lines through each of its stages (tests/logql_check.py), with the
variables at the values Grafana opens the dashboard with."""
from __future__ import annotations

import json
import re
import shutil

import pytest
import yaml
from conftest import DIST, ROOT
from dashboard_queries import dashboards, panels, resolve_variables, targets
from logql_check import check, kept
from logql_shippers import FIXTURES, container_records, entries, label_names, shippers
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
    # PHP's uncaught exception (php-src Zend/zend_exceptions.c): a chained one follows a blank line as "Next ...".
    "php_errors.log": r"(\[\d{2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2}:\d{2} \w+\] .+|Stack trace:|#\d+ .+|  thrown in .+|"
                      r"Next [\w\\]+: .+|)",
    # The kubelet's CRI log file: time, stream, full/partial tag, the text.
    "container.log": r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z (stdout|stderr) F .*",
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


def target_of(objects, series, panel_title: str, board: str = LOG_SEARCHES) -> str:
    [target] = [t for t in loki_targets(objects, series) if t.board == board and t.panel == panel_title]
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
    [chain] = [line for line in fatal if "Next Doctrine" in line]  # a chained exception stays whole
    assert "PDOException" in chain and "#2 {main}\\n\\nNext Doctrine" in chain, chain


def test_the_log_searches_board_holds_the_documents_15_searches(shipped):
    board = dashboards(shipped)[LOG_SEARCHES]
    numbered = {int(p["title"].split(".")[0]): p for p in panels(board) if re.match(r"\d+\. ", p["title"])}
    assert sorted(numbered) == list(range(1, 16))
    for number, panel in numbered.items():
        if panel["type"] == "text":
            assert "Not answerable" in panel["options"]["content"], number
        else:
            assert panel["type"] in ("logs", "table") and panel["targets"][0]["datasource"]["uid"] == "loki", number


# --- Each query counts the events its title names, on OpenEMR's real log shapes ----------------------

def requests(lines) -> set[str]:
    """The request lines ("GET /path?query") of the access-log lines a query kept."""
    return {re.search(r'"([A-Z]+ \S+) HTTP', line).group(1) for line, _ in lines}


REFUSED_LOGIN = "GET /interface/login_screen.php?error=1&site="  # authLoginScreen() after a refused login
BACK_TO_LOGIN = "GET /interface/login_screen.php?error=1&site=default"  # after the logout and the timeout


def test_the_fixtures_hold_a_refused_login_a_logout_and_a_timeout():
    access = (FIXTURES / "access.log").read_text()
    assert access.count(f'"{REFUSED_LOGIN} HTTP') == 1 and access.count(f'"{BACK_TO_LOGIN} HTTP') == 2
    assert '"GET /interface/logout.php HTTP/1.1" 200' in access  # its answer is the redirecting script


@pytest.mark.parametrize("board, title", [("openemr-audit", "Failed logins"),
                                          ("openemr-audit", "Clients with failed logins")])
def test_failed_login_panels_count_refused_logins_not_logouts_or_timeouts(shipped, series, board, title):
    lines = kept(target_of(shipped, series, title, board), shippers(DIST / SIDECAR), "openemr")
    assert requests(lines) == {REFUSED_LOGIN}
    assert len(lines) == 1


def test_the_authentication_failures_search_holds_refused_logins_and_refused_requests(shipped, series):
    query = target_of(shipped, series, "4. Authentication failures")
    lines = kept(query, shippers(DIST / SIDECAR), "openemr")
    assert requests(lines) == {REFUSED_LOGIN, "POST /oauth2/default/token", "GET /apis/default/api/patient"}
    assert {labels["status"] for _, labels in lines} == {"200", "401", "403"}
    assert kept(target_of(shipped, series, "Authentication failures", "openemr-audit"),
                shippers(DIST / SIDECAR), "openemr") == lines


def test_third_party_failures_leave_out_the_database_and_local_files(shipped, series):
    lines = [line for line, _ in kept(target_of(shipped, series, "13. Third-party failures"),
                                      shippers(DIST / SIDECAR), "openemr")]
    assert any("cURL error 28" in line for line in lines)  # Guzzle's call to RxNav
    assert any("AH00957: http: attempt to connect" in line for line in lines)  # a proxied backend
    assert any("file_get_contents(https://rxnav" in line for line in lines)
    assert not [line for line in lines if "Connection refused" in line or "No such file" in line], lines


def test_a_database_refusal_is_a_database_error(shipped, series):
    lines = [line for line, _ in kept(target_of(shipped, series, "5. Database query errors"),
                                      shippers(DIST / SIDECAR), "openemr")]
    assert any("mysqli_real_connect(): (HY000/2002): Connection refused" in line for line in lines)
    assert any("SQLSTATE[HY000] [2002] Connection refused" in line for line in lines)


@pytest.mark.parametrize("board, title, label, values", [
    ("openemr-usage", "Encounter forms by form", "form", {"vitals", "soap"}),
    # login_screen.php and logout.php sit in /interface/ itself: no area, left out.
    ("openemr-usage", "Page views by area", "area", {"login", "main", "patient_file", "forms", "reports"}),
    ("openemr-errors", "PHP errors by level", "php_level", {"Fatal error", "Warning", "Deprecated"}),
])
def test_grouped_panels_draw_only_named_series(shipped, series, board, title, label, values):
    query = target_of(shipped, series, title, board)
    found = shippers(DIST / SIDECAR)
    assert {labels[label] for _, labels in kept(query, found, "openemr")} == values
    unfiltered = query.replace(f'| {label}!=""', "")  # the query as it was: lines the regexp missed stay
    assert any("series with no name" in p for p in check(unfiltered, found, "openemr")), unfiltered


# --- A chained exception through the node DaemonSet ----------------------------------------------

CHAIN = "Next Doctrine\\DBAL\\Exception\\ConnectionException"


def node_shipper(tree_dir):
    [node] = [s for s in shippers(tree_dir) if s.name == "monitoring-agents/fluent-bit-config"]
    return node


@pytest.mark.parametrize("overlay_name", ["clinic", "large"])
def test_a_chained_exception_is_one_record_with_the_pods_labels(overlay_name):
    node = node_shipper(DIST / overlay_name)
    found = entries(node, "openemr")
    assert all({"namespace", "pod", "container"} <= set(e.labels) for e in found), \
        [e.line for e in found if "namespace" not in e.labels]
    [chain] = [text for text in (json.loads(e.line)["log"] for e in found) if CHAIN in text]
    assert chain.startswith("PHP Fatal error:  Uncaught PDOException") and "#2 {main}\n\n" + CHAIN in chain
    assert chain.endswith("ExceptionConverter.php on line 103")


def test_every_namespace_scoped_query_sees_the_whole_chain(series):
    clinic = load_tree(DIST / "clinic")
    query = target_of(clinic, series, "All OpenEMR output", "openemr-errors")
    lines = [line for line, _ in kept(query, shippers(DIST / "clinic"), "openemr")]
    assert any(line.startswith("PHP Fatal error:") and CHAIN in line for line in lines)


@pytest.mark.parametrize("start, cont", [
    # Only an error's first line starts a record: after a line no rule matches, trace-shaped lines (here
    # the blank line and " > https://..." of the entrypoint's banner) are joined with no first line and
    # lose the keys the labels come from.
    (r"/^(?:PHP (?:Fatal error|Warning):)/", None),
    # A blank line continues no trace: it ends the record, and the "Next" part after it has no first line.
    (None, r"/^(?:Stack trace:|#\d+ |\s+thrown in |Next |\s+)/"),
])
def test_a_multiline_rule_that_loses_the_chain_is_caught(tmp_path, start, cont):
    shutil.copytree(DIST / "clinic", tmp_path / "clinic")
    config = tmp_path / "clinic" / "fluent-bit.yaml"
    objects = [o for o in yaml.safe_load_all(config.read_text()) if o]
    [config_map] = [o for o in objects if o["kind"] == "ConfigMap" and "fluent-bit.yaml" in o["data"]]
    fluent = yaml.safe_load(config_map["data"]["fluent-bit.yaml"])
    rules = {r["state"]: r for r in fluent["multiline_parsers"][0]["rules"]}
    rules["start_state"]["regex"] = start or rules["start_state"]["regex"]
    rules["cont"]["regex"] = cont or rules["cont"]["regex"]
    config_map["data"]["fluent-bit.yaml"] = yaml.safe_dump(fluent, sort_keys=False, width=100_000)
    config.write_text(yaml.safe_dump_all(objects, sort_keys=False, width=100_000))
    records = container_records(node_shipper(tmp_path / "clinic"), "openemr")
    assert [r["log"] for r in records if "k8s_namespace" not in r], records
    assert [e for e in entries(node_shipper(tmp_path / "clinic"), "openemr") if "namespace" not in e.labels]
