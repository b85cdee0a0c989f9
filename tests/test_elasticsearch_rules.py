"""Elasticsearch's alerts as rendered with LOGS_BACKEND=elasticsearch: promtool-clean, each firing on its
case and quiet on the other, a runbook section each, only catalogued metrics, Loki's rules gone with Loki."""
from __future__ import annotations

import re

import pytest
import yaml
from alert_cases_elasticsearch import ELASTICSEARCH_CASES, ES_LABELS
from conftest import DIST, clean_env, run_main
from stackgen import catalog
from stackgen.validate import load_tree
from test_rules import PROMTOOL, _test_group, promtool, runbook_anchors

needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not on PATH")


@pytest.fixture(scope="module")
def groups(tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("es-rules") / "dist"
    result = run_main("--dist", str(out), "--overlay", "clinic", env=clean_env(LOGS_BACKEND="elasticsearch"))
    assert result.returncode == 0, result.stderr
    return [g for o in load_tree(out / "clinic") if o["kind"] == "PrometheusRule" for g in o["spec"]["groups"]]


def es_alerts(groups):
    return [r for g in groups if g["name"] == "elasticsearch" for r in g["rules"]]


@needs_promtool
def test_elasticsearch_alerts_fire_on_their_case_and_stay_quiet_otherwise(groups, tmp_path):
    rules = es_alerts(groups)
    assert {r["alert"] for r in rules} == set(ELASTICSEARCH_CASES)
    stripped = [{k: v for k, v in r.items() if k != "annotations"} for r in rules]
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "elasticsearch", "rules": stripped}]}))
    assert promtool("check", "rules", str(tmp_path / "rules.yml")).returncode == 0
    tests = []
    for rule in rules:
        spec = ELASTICSEARCH_CASES[rule["alert"]]
        tests.append(_test_group(rule["alert"], rule["labels"]["severity"], spec, spec["fire"], spec["at"], spec["alerts"]))
        tests.append(_test_group(rule["alert"], rule["labels"]["severity"], spec, spec["quiet"], spec["quiet_at"], []))
    suite = tmp_path / "tests.yml"
    suite.write_text(yaml.safe_dump({"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": tests}))
    result = promtool("test", "rules", str(suite))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]


def test_each_alert_has_a_runbook_section_and_uses_catalogued_metrics(groups):
    anchors, exporter = runbook_anchors(), catalog.component_series("elasticsearch-exporter")
    for rule in es_alerts(groups):
        assert rule["alert"].lower() in anchors, rule["alert"]
        assert rule["annotations"]["runbook_url"].endswith("#" + rule["alert"].lower())
        used = set(re.findall(r"\b(elasticsearch_[a-z_]+)", rule["expr"]))
        assert (used or "up{" in rule["expr"]) and used <= exporter, used - exporter


def test_lokis_rules_go_with_loki_and_shared_ones_stay(groups):
    rendered = {r.get("alert") or r.get("record") for g in groups for r in g["rules"]}
    assert not {name for name in rendered if "loki" in name.lower()}
    assert "RingMembersUnhealthy" in rendered and "TempoDown" in rendered


def relabel(labels: dict[str, str], configs: list[dict]) -> dict[str, str]:
    """Prometheus' metric relabeling, for the two actions the monitors render (replace with the default
    regex, labeldrop); anything else is refused rather than guessed."""
    labels = dict(labels)
    for config in configs:
        action = config.get("action", "replace")
        if action == "replace" and set(config) <= {"sourceLabels", "targetLabel", "action"}:
            value = ";".join(labels.get(name, "") for name in config["sourceLabels"])
            labels = {**labels, config["targetLabel"]: value} if value else \
                {k: v for k, v in labels.items() if k != config["targetLabel"]}
        elif action == "labeldrop":
            labels = {k: v for k, v in labels.items() if not re.fullmatch(config["regex"], k)}
        else:
            raise AssertionError(f"relabel action not emulated: {config}")
    return labels


def test_the_cluster_label_reaches_the_rules_as_scraped():
    """The exporter names Elasticsearch's cluster `cluster`, which Prometheus' external labels reserve for
    the Kubernetes cluster: the monitor renames it, and the rules, inhibitions and cases use the new name."""
    objects = load_tree(DIST / "hospital-elk")
    [monitor] = [o for o in objects if o["kind"] == "ServiceMonitor" and o["metadata"]["name"] == "elasticsearch-exporter"]
    [endpoint] = monitor["spec"]["endpoints"]
    exported = {"cluster": "elasticsearch", "color": "red", "namespace": "monitoring"}
    scraped = relabel(exported, endpoint["metricRelabelings"])
    assert "cluster" not in scraped and scraped["es_cluster"] == "elasticsearch"
    assert ES_LABELS.items() <= scraped.items(), "the promtool cases use the labels as scraped"
    rules = [r for o in objects if o["kind"] == "PrometheusRule" for g in o["spec"]["groups"] for r in g["rules"]
             if "elasticsearch_cluster_health" in r.get("expr", "")]
    assert rules and all("by (namespace, es_cluster)" in r["expr"] for r in rules)
    config = yaml.safe_load(next(o for o in objects if o["kind"] == "Secret")["stringData"]["alertmanager.yaml"])
    [yellow] = [r for r in config["inhibit_rules"] if "ElasticsearchClusterYellow" in str(r.get("target_matchers"))]
    assert set(yellow["equal"]) <= set(scraped)
