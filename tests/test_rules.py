"""The rules as rendered in dist/: promtool-clean, every alert unit-tested firing and quiet, every alert
fully annotated with a runbook section that exists, every metric in the catalog."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml
from alert_cases import CASES
from conftest import DIST, ROOT, renders_elasticsearch
from promql import metric_names
from stackgen import catalog
from stackgen.validate import load_tree

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not on PATH (CI installs prometheus)")
RUNBOOKS = ROOT / "docs" / "runbooks.md"


def rule_groups(overlay):
    return [g for o in load_tree(DIST / overlay) if o["kind"] == "PrometheusRule" for g in o["spec"]["groups"]]


def alerts(overlay):
    return [r for g in rule_groups(overlay) for r in g["rules"] if "alert" in r]


def write_rules(overlay, path, keep_annotations=True):
    groups = rule_groups(overlay)
    if not keep_annotations:  # promtool compares annotations verbatim; they are checked on their own below
        groups = [{**g, "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in g["rules"]]} for g in groups]
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))


def promtool(*args):
    # A safety net, not a speed check: one promtool run unit-tests ~170 alerts and takes minutes on a loaded machine.
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=1800)


@needs_promtool
def test_promtool_check_rules_is_clean(overlay, tmp_path):
    rules = tmp_path / "rules.yml"
    write_rules(overlay, rules)
    result = promtool("check", "rules", str(rules))
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr


def test_every_alert_has_a_unit_test_case(overlay):
    assert sorted(r["alert"] for r in alerts(overlay)) == sorted(set(r["alert"] for r in alerts(overlay)))
    assert {r["alert"] for r in alerts(overlay)} <= set(CASES)


def _test_group(name, severity, spec, series, at, expected):
    return {"interval": spec["interval"],
            "input_series": [{"series": s, "values": v} for s, v in series.items()],
            "alert_rule_test": [{"eval_time": at, "alertname": name,
                                 "exp_alerts": [{"exp_labels": {**labels, "severity": severity}} for labels in expected]}]}


def _one_alert_rules(groups, name):
    """Every recording rule (alerts may read any) and the one alert, each in its group as rendered: a
    test group evaluates only these, which keeps 167 alerts' cases within minutes."""
    kept = [{**g, "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in g["rules"]
                            if "record" in r or r["alert"] == name]} for g in groups]
    return {"groups": [g for g in kept if g["rules"]]}


@needs_promtool
def test_every_alert_fires_and_stays_quiet_as_rendered(overlay, tmp_path):
    groups, suites = rule_groups(overlay), []
    for rule in alerts(overlay):
        name, spec, severity = rule["alert"], CASES[rule["alert"]], rule["labels"]["severity"]
        tests = [_test_group(name, severity, spec, spec["fire"], spec["at"], spec["alerts"])]
        if spec["quiet"] is not None:  # Watchdog always fires
            tests.append(_test_group(name, severity, spec, spec["quiet"], spec["quiet_at"], []))
        (tmp_path / f"{name}.rules.yml").write_text(yaml.safe_dump(_one_alert_rules(groups, name), sort_keys=False))
        suite = tmp_path / f"{name}.tests.yml"
        suite.write_text(yaml.safe_dump({"rule_files": [f"{name}.rules.yml"], "evaluation_interval": "1m",
                                         "tests": tests}))
        suites.append(str(suite))
    result = promtool("test", "rules", *suites)
    failed = result.stdout[result.stdout.find("FAILED") - 300:] if "FAILED" in result.stdout else result.stdout
    assert result.returncode == 0, failed[:6000] + result.stderr[-3000:]
    assert result.stdout.count("SUCCESS") == len(alerts(overlay))


def runbook_anchors():
    return {re.sub(r"[^a-z0-9 -]", "", line[3:].strip().lower()).replace(" ", "-")
            for line in RUNBOOKS.read_text().splitlines() if line.startswith("## ")}


def test_every_alert_is_annotated_with_a_runbook_section_that_exists(overlay):
    anchors = runbook_anchors()
    for rule in alerts(overlay):
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), rule["alert"]
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), rule["alert"]
        assert re.fullmatch(r"[0-9]+[smh]", rule["for"]), rule["alert"]
        page, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        assert page.endswith("/runbooks.md") and anchor in anchors, rule["alert"]


def test_metric_name_extraction_finds_what_it_should():
    expr = ('sum by (namespace) (rate(foo_total{a="b"}[5m])) / on (namespace) group_left (node) bar_info '
            '> 0.5 and absent(baz) or vector(1)')
    assert metric_names(expr) == {"foo_total", "bar_info", "baz"}


def test_no_expression_uses_a_metric_outside_the_catalog(overlay):
    recorded = {r["record"] for g in rule_groups(overlay) for r in g["rules"] if "record" in r}
    known = catalog.all_series() | recorded
    unknown = {(r.get("alert") or r.get("record")): sorted(metric_names(r["expr"]) - known)
               for g in rule_groups(overlay) for r in g["rules"]}
    assert {name: names for name, names in unknown.items() if names} == {}


GROUPS = {"openemr-service", "openemr-slo", "openemr-pods", "node", "kubernetes-apps", "kubernetes-storage",
          "kubernetes-resources", "kubernetes-system", "prometheus", "prometheus-operator", "alertmanager",
          "logs-traces-metrics", "stack", "certificates"}


def test_rules_are_selected_and_cover_the_areas(overlay):
    objects = load_tree(DIST / overlay)
    names = {o["metadata"]["name"] for o in objects if o["kind"] == "PrometheusRule"}
    assert names == GROUPS | ({"elasticsearch"} if renders_elasticsearch(objects) else set())
    severities = {r["labels"]["severity"] for r in alerts(overlay)}
    assert severities == {"critical", "warning", "info"}
    assert len(alerts(overlay)) >= 120
    assert len([r for g in rule_groups(overlay) for r in g["rules"] if "record" in r]) >= 30


# EKS runs these itself and exposes no metrics of them: an alert on them would fire forever.
NOT_ON_EKS = re.compile(r"kube-scheduler|kube-controller-manager|etcd|kube-proxy|kubeproxy|scheduler_|"
                        r"workqueue_|coredns_|cluster_autoscaler", re.IGNORECASE)


def test_nothing_alerts_on_components_eks_does_not_expose(overlay):
    assert [r.get("alert") or r["record"] for g in rule_groups(overlay) for r in g["rules"]
            if NOT_ON_EKS.search(r["expr"])] == []


# Alerts about the cluster or a component as a whole: their result carries no label to name.
WHOLE = {"Watchdog", "KubeCPUOvercommit", "KubeMemoryOvercommit", "KubeAPIDown", "LokiDown", "TempoDown", "MimirDown",
         "CertManagerDown", "OpenEMRNoTraffic", "GrafanaDown", "KubernetesEventsNotShipped", "ElasticsearchExporterDown"}


def test_every_description_names_the_object_and_its_value(overlay):
    for rule in alerts(overlay):
        description = rule["annotations"]["description"]
        assert "$value" in description, rule["alert"]
        assert "$labels." in description or rule["alert"] in WHOLE, rule["alert"]
        assert "$threshold" not in description + rule["annotations"]["summary"] + rule["expr"], rule["alert"]


def test_readme_lists_the_alerts_as_rendered():
    from stackgen.components.rules import alert_table

    readme = (ROOT / "README.md").read_text()
    listed = readme.split("<!-- alerts:begin -->\n", 1)[1].split("<!-- alerts:end -->", 1)[0]
    assert listed == alert_table([o for o in load_tree(DIST / "hospital") if o["kind"] == "PrometheusRule"])


def test_burn_rate_factors_follow_the_sre_workbook():
    from stackgen.components.rules.slo import burn_factor
    # For a 30-day window the workbook's factors: 14.4 (2% in 1h), 6 (5% in 6h), 3 (10% in 1d), 1 (10% in 3d).
    assert [burn_factor("30d", w, share) for w, share in (("1h", 0.02), ("6h", 0.05), ("1d", 0.1), ("3d", 0.1))] == \
        [14.4, 6, 3, 1]


def test_slo_alerts_page_on_fast_burn_and_ticket_on_slow(overlay):
    severity = {r["alert"]: r["labels"]["severity"] for r in alerts(overlay) if "BudgetBurn" in r["alert"]}
    assert severity == {"OpenEMRErrorsBudgetBurnFast": "critical", "OpenEMRErrorsBudgetBurnSlow": "warning",
                        "OpenEMRLatencyBudgetBurnFast": "critical", "OpenEMRLatencyBudgetBurnSlow": "warning"}



# --- per-alert thresholds ---------------------------------------------------------------------------

def _rendered_alerts(tmp_path, extra):
    from conftest import run_main
    overlays = tmp_path / "overlays"
    shutil.copytree(ROOT / "overlays", overlays)
    (overlays / "hospital.yaml").write_text((overlays / "hospital.yaml").read_text() + extra)
    result = run_main("--overlays", str(overlays), "--overlay", "hospital", "--dist", str(tmp_path / "dist"))
    return result, tmp_path / "dist" / "hospital"


@needs_promtool
def test_a_threshold_override_changes_when_the_alert_fires(tmp_path):
    """NodeHighLoad's firing case (load 2.5 per CPU, default threshold 2) is quiet at threshold 3, fires at
    threshold 1; OpenEMRHighErrorRate's 10% errors stop paging at 20%."""
    result, out = _rendered_alerts(tmp_path, "alerting:\n  overrides:\n    NodeHighLoad: {threshold: 3}\n"
                                             "    OpenEMRHighErrorRate: {threshold: 0.2, for: 10m}\n")
    assert result.returncode == 0, result.stderr
    groups = [g for o in load_tree(out) if o["kind"] == "PrometheusRule" for g in o["spec"]["groups"]]
    rendered = {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}
    default = {r["alert"]: r for r in alerts("hospital")}
    for name, old, new in (("NodeHighLoad", "2", "3"), ("OpenEMRHighErrorRate", "0.05", "0.2")):
        assert rendered[name]["expr"] == default[name]["expr"].replace(f"> {old}", f"> {new}") != default[name]["expr"]
    assert "threshold 3" in rendered["NodeHighLoad"]["annotations"]["description"]
    assert "threshold 20%" in rendered["OpenEMRHighErrorRate"]["annotations"]["description"]
    assert rendered["OpenEMRHighErrorRate"]["for"] == "10m"
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": [{**g, "rules": [{k: v for k, v in r.items() if k != "annotations"}
                                                                 for r in g["rules"]]} for g in groups]}))
    tests = []
    for name, at in (("NodeHighLoad", None), ("OpenEMRHighErrorRate", "20m")):
        spec = CASES[name]
        tests.append(_test_group(name, rendered[name]["labels"]["severity"], spec, spec["fire"], at or spec["at"], []))
    suite = tmp_path / "tests.yml"
    suite.write_text(yaml.safe_dump({"rule_files": [rules.name], "evaluation_interval": "1m", "tests": tests}))
    result = promtool("test", "rules", str(suite))
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.parametrize("extra, expected", [
    ("alerting:\n  overrides:\n    KubeNodeNotReady: {threshold: 1}\n",
     "alerting.overrides.KubeNodeNotReady.threshold: KubeNodeNotReady compares against no threshold of its own; "
     "alerts with a threshold: "),
    ("alerting:\n  overrides:\n    NodeHighLod: {threshold: 3}\n", "alerting.overrides.NodeHighLod: unknown alert"),
    ("alerting:\n  overrides:\n    NodeHighLoad: {threshold: high}\n", "alerting.overrides.NodeHighLoad.threshold"),
])
def test_bad_thresholds_stop_synthesis_naming_the_key(tmp_path, extra, expected):
    result, out = _rendered_alerts(tmp_path, extra)
    assert result.returncode == 2 and expected in result.stderr, result.stderr
    assert not out.exists()


def test_every_threshold_is_written_into_its_expression():
    """An alert that declares a threshold renders it where its expression compares; one that does not has
    none to replace (lib/alerts.py refuses the mix at import)."""
    from stackgen.lib.alerts import Alert
    with pytest.raises(ValueError, match="go together"):
        Alert("X", "up > 1", "warning", "s", "d", threshold=1)
    with pytest.raises(ValueError, match="go together"):
        Alert("X", "up > $threshold", "warning", "s", "d")
    alert = Alert("X", "rate(x[5m]) > $threshold", "warning", "s", "above $threshold", threshold=0.05, unit="ratio")
    assert alert.with_threshold(0.2).rendered() == ("rate(x[5m]) > 0.2", "s", "above 20%")
