"""`main.py diff`: what a change does, object by object and field by field; exit 1 when dist/ is stale."""
from __future__ import annotations

import copy
import json
import subprocess

import pytest
import yaml
from conftest import DIST, OVERLAYS, ROOT, clean_env, run_main
from stackgen.diff import compare, field_changes, git_tree, markdown, working_tree


def test_an_unchanged_tree_prints_no_changes_and_exits_0():
    result = run_main("diff")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "no changes\n"


DASHBOARD = "ConfigMap/monitoring/grafana-dashboard-"


def test_one_knob_shows_exactly_the_objects_and_fields_it_changes():
    result = run_main("diff", "--json", env=clean_env(LOKI_RETENTION="360h"))
    assert result.returncode == 1, result.stderr
    report = {overlay["overlay"]: overlay for overlay in json.loads(result.stdout)}
    assert set(report) == set(OVERLAYS)
    for overlay in report.values():
        assert overlay["added"] == [] and overlay["removed"] == []
        fields = {(c["object"], f["path"], f["old"], f["new"]) for c in overlay["changed"] for f in c["fields"]
                  if "checksum" not in f["path"] and not c["object"].endswith(".md")}
        # Two dashboards state the retention in force: their text changes, and nothing else of them.
        stated = {(name, path) for name, path, _, _ in fields if name.startswith(DASHBOARD)}
        assert {name for name, _ in stated} == {DASHBOARD + "openemr-audit", DASHBOARD + "stack-loki-retention"}
        assert all("720h" in old and "360h" in new for name, _, old, new in fields if name.startswith(DASHBOARD))
        assert fields - {f for f in fields if f[0].startswith(DASHBOARD)} == {
            ("ConfigMap/monitoring/loki-config", "data[config.yaml].limits_config.retention_period", "720h", "360h")}
        # Every other changed field is a checksum that rolls Loki's pods, or Grafana's for its dashboards.
        rolled = {c["object"] for c in overlay["changed"] if c["object"] != "ConfigMap/monitoring/loki-config"
                  and not c["object"].startswith(DASHBOARD)}
        assert rolled - {"CAPACITY.md", "Deployment/monitoring/grafana"}
        assert all("/loki" in name for name in rolled - {"CAPACITY.md", "Deployment/monitoring/grafana"})
        # Half the log retention: the Loki bucket holds half as much, and the estimate says so.
        assert overlay["cost"]["min_after"] < overlay["cost"]["min_before"]


def test_reordering_and_reserialising_is_no_change():
    tree = working_tree(DIST)
    path = "hospital/rules.yaml"
    docs = [d for d in yaml.safe_load_all(tree[path]) if d]
    for doc in docs:
        for group in doc["spec"]["groups"]:
            group["rules"].reverse()
    shuffled = {**tree, path: "---\n".join(yaml.safe_dump(d, sort_keys=False, width=60) for d in reversed(docs))}
    assert all(d.empty for d in compare(tree, shuffled))


def test_rules_are_compared_by_alert_and_configs_as_parsed_files():
    old = {"groups": [{"name": "stack", "rules": [{"alert": "A", "expr": "up == 0"}, {"alert": "B", "expr": "x"}]}]}
    new = copy.deepcopy(old)
    new["groups"][0]["rules"] = [{"alert": "B", "expr": "x"}, {"alert": "A", "expr": "up == 1"}]
    assert field_changes(old, new) == [("groups[name=stack].rules[alert=A].expr", "up == 0", "up == 1")]
    config_old, config_new = {"data": {"c.yaml": "a: 1\nb: [x, y]\n"}}, {"data": {"c.yaml": "b: [x, y]\na: 2\n"}}
    assert field_changes(config_old, config_new) == [("data[c.yaml].a", 1, 2)]


def test_markdown_names_added_removed_and_changed_objects():
    tree = working_tree(DIST)
    changed = {k: v for k, v in tree.items() if k != "clinic/grafana.yaml"}
    changed["clinic/extra.yaml"] = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap",
                                                   "metadata": {"name": "extra", "namespace": "monitoring"}})
    text = markdown(compare(tree, changed))
    assert "### clinic:" in text and "- added `ConfigMap/monitoring/extra`" in text
    assert "- removed `Deployment/monitoring/grafana`" in text
    assert "hospital" not in text


def test_base_ref_reads_dist_as_committed():
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "dist"], cwd=ROOT, capture_output=True, text=True)
    if dirty.returncode != 0 or dirty.stdout.strip():
        pytest.skip("dist/ differs from HEAD in this checkout")
    assert git_tree("HEAD", DIST) == working_tree(DIST)


def test_the_example_workflow_uses_the_readme_commands_and_fails_on_a_stale_dist():
    readme = (ROOT / "README.md").read_text()
    test_command = next(line for line in readme.splitlines() if line.endswith("pipenv run tests"))
    workflow = yaml.safe_load((ROOT / "examples" / "github-actions.yaml").read_text())
    steps = workflow["jobs"]["check"]["steps"]
    runs = [step.get("run", "") for step in steps]
    assert test_command in runs
    stale = runs.index("pipenv run python main.py diff")
    assert stale > runs.index(test_command) and "if" not in steps[stale]
    assert any("--base" in run for run in runs) and workflow["permissions"]["pull-requests"] == "write"
