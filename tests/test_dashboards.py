"""The dashboards as rendered in dist/: provisioned from ConfigMaps, structurally sound, and every PromQL
target proven by promtool to return data, with the labels its legend names, from series shaped like
the exporters' real output (tests/synthetic*.py)."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml
from conftest import DIST, ROOT, clean_env, run_main
from dashboard_queries import (
    dashboards,
    has_data,
    metric_of_variable,
    panels,
    resolve_variables,
    rule_groups,
    targets,
)
from grafana_foundation_sdk.models.dashboard import Dashboard
from promql import metric_names
from synthetic import EVAL_TIME, INTERVAL, all_series

from stackgen import catalog
from stackgen.dashboards.panels import FOLDERS, KUBERNETES, NODES, OPENEMR, STACK
from stackgen.validate import load_tree

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not on PATH (CI installs prometheus)")
GRID_WIDTH = 24
# Client-side apply's last-applied annotation (Flux applies server-side, where a ConfigMap's 1 MiB is the limit).
CLIENT_SIDE_APPLY_LIMIT = 256 * 1024
LOG_SEARCHES = "openemr-log-searches"


def provisioned_datasources(objects) -> dict[str, str]:
    config = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "grafana-datasources")
    return {d["uid"]: d["type"] for d in yaml.safe_load(config["data"]["datasources.yaml"])["datasources"]}


def grafana_pod(objects) -> dict:
    deployment = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "grafana")
    return deployment["spec"]["template"]


@pytest.fixture(scope="module")
def boards(objects):
    return dashboards(objects)


def folder_of(objects) -> dict[str, str]:
    """uid -> folder, from the paths the projected volume gives each dashboard's file."""
    [volume] = [v for v in grafana_pod(objects)["spec"]["volumes"] if v["name"] == "dashboards"]
    found = {}
    for source in volume["projected"]["sources"]:
        [item] = source["configMap"]["items"]
        folder, file = item["path"].split("/")
        found[file.removesuffix(".json")] = folder
    return found


def test_each_overlay_provisions_the_stack_and_openemr_dashboards_and_the_log_searches(objects, boards):
    folders = folder_of(objects)
    assert set(folders) == set(boards)
    count = {folder: sum(1 for f in folders.values() if f == folder) for folder in FOLDERS}
    assert count[KUBERNETES] + count[NODES] + count[STACK] >= 18, count
    assert count[OPENEMR] - (LOG_SEARCHES in boards) >= 10, count
    assert folders.get(LOG_SEARCHES) == OPENEMR


def test_grafana_reads_the_dashboards_with_a_file_provider_and_no_ui_edits(objects):
    providers = next(o for o in objects if o["kind"] == "ConfigMap"
                     and o["metadata"]["name"] == "grafana-provisioning-dashboards")
    [provider] = yaml.safe_load(providers["data"]["providers.yaml"])["providers"]
    mounts = {m["name"]: m["mountPath"] for m in grafana_pod(objects)["spec"]["containers"][0]["volumeMounts"]}
    assert provider["type"] == "file" and provider["allowUiUpdates"] is False
    assert provider["options"] == {"path": mounts["dashboards"], "foldersFromFilesStructure": True}
    assert mounts["providers"] == "/etc/grafana/provisioning/dashboards"
    # No sidecar, no API access: one container, and no token mounted for it.
    assert [c["name"] for c in grafana_pod(objects)["spec"]["containers"]] == ["grafana"]


def test_one_configmap_per_dashboard_within_what_any_apply_accepts(objects, boards):
    maps = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("grafana-dashboard-")
]
    assert len(maps) == len(boards)
    for config_map in maps:
        [(key, text)] = config_map["data"].items()
        assert config_map["metadata"]["name"] == f"grafana-dashboard-{json.loads(text)['uid']}"
        assert len(json.dumps(config_map).encode()) < CLIENT_SIDE_APPLY_LIMIT, config_map["metadata"]["name"]


def test_a_dashboard_change_rolls_grafana_and_an_unchanged_render_does_not(tmp_path):
    def annotation(dist):
        pod = grafana_pod(load_tree(dist / "clinic"))
        return pod["metadata"]["annotations"]["checksum/dashboards"]

    runs = {}
    for name, env in (("a", clean_env()), ("b", clean_env()), ("c", clean_env(OPENEMR_NAMESPACE="emr"))):
        result = run_main("--dist", str(tmp_path / name), "--overlay", "clinic", env=env)
        assert result.returncode == 0, result.stderr
        runs[name] = annotation(tmp_path / name)
    assert runs["a"] == runs["b"] != runs["c"]


def test_panel_ids_are_unique_and_panels_do_not_overlap(boards):
    for uid, board in boards.items():
        ids = [p["id"] for p in panels(board)]
        assert len(ids) == len(set(ids)), uid
        cells = {}
        for panel in panels(board):
            pos = panel["gridPos"]
            assert pos["x"] >= 0 and pos["x"] + pos["w"] <= GRID_WIDTH, (uid, panel["title"], pos)
            for x in range(pos["x"], pos["x"] + pos["w"]):
                for y in range(pos["y"], pos["y"] + pos["h"]):
                    assert (x, y) not in cells, (uid, panel["title"], cells.get((x, y)))
                    cells[(x, y)] = panel["title"]


def test_every_panel_says_what_it_shows(boards):
    missing = [(uid, p["title"]) for uid, b in boards.items() for p in panels(b)
               if p["type"] != "row" and not (p.get("description") or "").strip()]
    assert not missing


def test_every_datasource_and_linked_dashboard_exists(objects, boards):
    provisioned = provisioned_datasources(objects)
    for uid, board in boards.items():
        variables = {v["name"]: v for v in board.get("templating", {}).get("list", [])}
        for panel in panels(board):
            for ref in [panel.get("datasource")] + [t.get("datasource") for t in panel.get("targets", [])]:
                if not ref:
                    continue
                ds = ref["uid"]
                if ds.startswith("${"):
                    variable = variables[ds[2:-1]]
                    assert variable["type"] == "datasource" and variable["current"]["value"] in provisioned, uid
                    assert provisioned[variable["current"]["value"]] == variable["query"] == ref["type"]
                else:
                    assert provisioned.get(ds) == ref["type"], (uid, panel["title"], ref)
        linked = [link["url"] for link in board.get("links", [])]
        linked += [link["url"] for p in panels(board) for link in p.get("fieldConfig", {}).get("defaults", {}).get("links", [])]
        for url in linked:
            assert url.startswith("/d/") and url[3:].split("?")[0] in boards, (uid, url)


def test_every_dashboard_decodes_back_through_the_sdk_models(boards):
    for uid, board in boards.items():
        decoded = json.loads(json.dumps(Dashboard.from_json(board).to_json(), default=lambda o: o.to_json()))
        assert decoded["uid"] == uid and len(panels(decoded)) == len(panels(board))
        assert [t.get("expr") for p in panels(decoded) for t in p.get("targets", [])] == \
            [t.get("expr") for p in panels(board) for t in p.get("targets", [])]


@pytest.fixture(scope="module")
def series():
    return all_series()


@pytest.fixture(scope="module")
def resolved(boards, series):
    """uid -> (the variables' values as Grafana opens the board, the problems found resolving them)."""
    return {uid: resolve_variables(board, series) for uid, board in boards.items()}


@pytest.fixture(scope="module")
def promql(objects, boards, resolved):
    """Every PromQL target of the overlay's dashboards, resolved."""
    provisioned = provisioned_datasources(objects)
    return [t for uid, board in boards.items() for t in targets(board, provisioned, resolved[uid][0], {"prometheus"})]


def test_every_variable_opens_on_a_value_the_data_offers(resolved):
    problems = [problem for _, found in resolved.values() for problem in found]
    assert not problems


def test_every_promql_query_uses_only_catalogued_metrics(objects, boards, resolved, promql):
    recorded = {r["record"] for g in rule_groups(objects) for r in g["rules"] if "record" in r}
    known = catalog.all_series() | recorded
    unknown = {t.where: sorted(metric_names(t.expr) - known) for t in promql}
    for uid, board in boards.items():
        values = resolved[uid][0]
        unknown.update({f"{uid} / variable {v['name']}": sorted({metric_of_variable(v, values)} - known - {""})
                        for v in board.get("templating", {}).get("list", [])})
    assert not {where: names for where, names in unknown.items() if names}


def promtool(*args, cwd):
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=600, cwd=cwd)


def write_suite(tmp_path, objects, checks: list[tuple[str, str]]) -> str:
    """A promtool unit test: the synthetic series, the rendered rules (so recorded series exist), and one
    promql_expr_test per check, each expected to evaluate to exactly {} 1."""
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": [{**g, "rules": [{k: v for k, v in r.items() if k != "annotations"}
                                                                for r in g["rules"]]} for g in rule_groups(objects)]}))
    tests = [{"expr": expr, "eval_time": EVAL_TIME, "exp_samples": [{"labels": "{}", "value": 1}]}
             for _, expr in checks]
    suite = {"rule_files": [rules.name], "evaluation_interval": INTERVAL, "tests": [{
        "interval": INTERVAL, "input_series": [{"series": s, "values": v} for s, v in all_series().items()],
        "promql_expr_test": tests}]}
    (tmp_path / "suite.yml").write_text(yaml.safe_dump(suite, width=10_000))
    return "suite.yml"


def failed_checks(result, checks) -> list[str]:
    """The checks promtool reported as failing, by where they come from."""
    return [where for where, expr in checks if expr in result.stdout] or [result.stdout[-3000:] + result.stderr[-2000:]]


@needs_promtool
def test_every_promql_query_parses(promql, tmp_path):
    records = [{"record": f"dashboard:check_{i}", "expr": t.expr}
               for i, t in enumerate(promql)]
    (tmp_path / "queries.yml").write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": records}]}))
    result = promtool("check", "rules", "queries.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


@needs_promtool
def test_every_promql_panel_returns_data_carrying_its_legend_labels(objects, promql, tmp_path):
    checks = [(t.where, has_data(t.expr, t.legend_labels)) for t in promql]
    assert checks
    result = promtool("test", "rules", write_suite(tmp_path, objects, checks), cwd=tmp_path)
    assert result.returncode == 0, failed_checks(result, checks)


@needs_promtool
@pytest.mark.parametrize("broken", [
    ("a metric nothing produces", 'sum(rate(node_cpu_seconds_totl[5m]))', ()),
    ("a label nothing sets", 'sum(rate(node_cpu_seconds_total{mode="idle",cluster="x"}[5m]))', ()),
    ("a legend label the result lacks", 'sum by (mode) (rate(node_cpu_seconds_total[5m]))', ("instance",)),
])
def test_the_proof_fails_for_a_query_that_would_say_no_data(tmp_path, broken):
    name, expr, legend = broken
    result = promtool("test", "rules", write_suite(tmp_path, [], [(name, has_data(expr, legend))]), cwd=tmp_path)
    assert result.returncode != 0 and "exp:" in result.stdout + result.stderr


@needs_promtool
def test_the_proof_passes_a_query_that_has_data(tmp_path):
    expr = has_data('sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))', ("instance",))
    result = promtool("test", "rules", write_suite(tmp_path, [], [("ok", expr)]), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_docs_list_every_dashboard_and_panel_as_rendered():
    result = run_main("dashboards", "--check")
    assert result.returncode == 0, result.stdout + result.stderr
    text = (ROOT / "docs" / "dashboards.md").read_text()
    for board in dashboards(load_tree(DIST / "hospital")).values():
        assert f"`{board['uid']}`" in text
        for panel in panels(board):
            if panel["type"] != "row":
                assert panel["title"] in text, (board["uid"], panel["title"])


def _render_clinic_with(tmp_path, extra: str):
    overlays = tmp_path / "overlays"
    overlays.mkdir()
    (overlays / "clinic.yaml").write_text((ROOT / "overlays" / "clinic.yaml").read_text() + extra)
    return run_main("--overlays", str(overlays), "--dist", str(tmp_path / "dist"))


def test_the_database_dashboard_reads_aurora_from_cloudwatch_once_the_cluster_is_named(tmp_path):
    result = _render_clinic_with(tmp_path, "openemr: {database_cluster_id: openemr-aurora}\n")
    assert result.returncode == 0, result.stderr
    board = dashboards(load_tree(tmp_path / "dist" / "clinic"))["openemr-database"]
    watched = [t for p in panels(board) for t in p.get("targets", []) if t["datasource"]["uid"] == "cloudwatch"]
    assert len(watched) >= 5
    assert all(t["namespace"] == "AWS/RDS" and t["dimensions"] == {"DBClusterIdentifier": "openemr-aurora"}
               and t["matchExact"] and t["queryMode"] == "Metrics" and t["statistic"] for t in watched)
    assert not any("database_cluster_id" in p.get("options", {}).get("content", "") for p in panels(board))
    # Without the key, the row says how to turn it on instead of showing nothing.
    default = dashboards(load_tree(DIST / "clinic"))["openemr-database"]
    assert any("database_cluster_id" in p.get("options", {}).get("content", "") for p in panels(default))


def test_a_malformed_database_cluster_id_stops_synthesis_naming_the_key(tmp_path):
    result = _render_clinic_with(tmp_path, "openemr: {database_cluster_id: 'not an id!'}\n")
    assert result.returncode != 0 and "openemr.database_cluster_id" in result.stderr + result.stdout
