"""Bad input stops synthesis with a message naming the key, before anything is written; the seed's
environment variables override an overlay for one render and are reported."""
from __future__ import annotations

import shutil

import pytest
from conftest import DIST, ROOT, clean_env, run_main, tree_bytes
from stackgen.validate import load_tree

BAD_OVERLAYS = {
    "min-above-max": ("autoscaling:\n  alertmanager: {min_replicas: 3, max_replicas: 2}\n",
                      "autoscaling.alertmanager.max_replicas=2 must be >= min_replicas (3)"),
    "unknown-key": ("prometheus:\n  retenton: 30d\n", "prometheus.retenton: unknown key; allowed here: evaluation_interval"),
    "unknown-section": ("grafanna: {}\n", "grafanna: unknown key; allowed here: agents_namespace, alerting, alertmanager"),
    "channel-without-secret": ("alerting:\n  pagerduty: {secret: null}\n",
                               "alerting.pagerduty.secret=None must name the Secret (name, key)"),
    "relative-log-dir": ("openemr: {log_dir: var/log}\n", "openemr.log_dir='var/log' must match"),
    "bad-buffer-size": ("fluent_bit: {buffer_limit: 2GiB}\n", "fluent_bit.buffer_limit='2GiB' must be a Fluent Bit size"),
    "malformed-duration": ("prometheus:\n  scrape_interval: 30 seconds\n",
                           "prometheus.scrape_interval='30 seconds' must be a duration"),
    "zero-replicas": ("autoscaling:\n  alertmanager: {max_replicas: 0}\n",
                      "autoscaling.alertmanager.max_replicas=0 Input should be greater than or equal to 1"),
    "retention-larger-than-volume": ("prometheus:\n  retention_size: 120GB\n",
                                     "prometheus.retention_size=120GB must be <= 90% of storage_size (100Gi)"),
    "request-above-limit": ("grafana:\n  resources: {cpu_request: 2, memory_request: 1Gi, cpu_limit: 1, memory_limit: 2Gi}\n",
                            "grafana.resources.cpu_request=2 must be <= cpu_limit (1)"),
    "grafana-scaled-on-sqlite": ("autoscaling:\n  grafana: {max_replicas: 3}\n",
                                 "autoscaling.grafana.max_replicas=3 must be 1 while grafana.database is not set"),
    "over-budget": ("budget: {cpu: 500m}\n", "exceed budget.cpu=500m"),
    "not-a-mapping": ("- prometheus\n", "must be a mapping of settings"),
    "replication-above-replicas": ("loki: {topology: simple-scalable, write_replicas: 2, replication_factor: 3}\n",
                                   "loki.replication_factor=3 must be <= the 2 ingesting replica(s)"),
    "single-process-autoscaled": ("autoscaling:\n  mimir: {max_replicas: 3}\n",
                                  "autoscaling.mimir.max_replicas=3 must be 1 while mimir.topology is monolithic"),
    "bad-role-arn": ("tempo: {role_arn: tempo-role}\n", "tempo.role_arn='tempo-role' must be an IAM role ARN"),
    "bad-topology": ("loki: {topology: distributed}\n",
                     "loki.topology='distributed' Input should be 'single-binary' or 'simple-scalable'"),
    # Namespaces: each has its own Pod Security level, so none may be shared.
    "agents-in-the-stacks-namespace": ("agents_namespace: monitoring\n",
                                       "agents_namespace=monitoring must differ from namespace (monitoring)"),
    "app-in-the-stacks-namespace": ("app_namespace: monitoring\n",
                                    "app_namespace=monitoring must differ from namespace (monitoring)"),
    "app-in-the-agents-namespace": ("app_namespace: monitoring-agents\n",
                                    "app_namespace=monitoring-agents must differ from agents_namespace"),
    # Zero where the program needs a positive duration: a scrape loop without pause, a retention that never deletes.
    "zero-scrape-interval": ("prometheus:\n  scrape_interval: 0s\n",
                             "prometheus.scrape_interval='0s' must be greater than zero"),
    "zero-log-retention": ("loki:\n  retention: 0h\n", "loki.retention='0h' must be greater than zero"),
    "slo-latency-off-a-bucket": ("alerting:\n  slo: {latency_seconds: 0.8}\n",
                                 "alerting.slo.latency_seconds=0.8 must be a boundary of OBI's request-duration histogram"),
}


@pytest.fixture()
def dist_copy(tmp_path):
    out = tmp_path / "dist"
    shutil.copytree(DIST, out)
    return out


@pytest.mark.parametrize("case", sorted(BAD_OVERLAYS))
def test_bad_overlay_names_the_key_and_leaves_dist_alone(case, tmp_path, dist_copy):
    content, expected = BAD_OVERLAYS[case]
    overlays = tmp_path / "overlays"
    overlays.mkdir()
    (overlays / "clinic.yaml").write_text(content)
    before = tree_bytes(dist_copy)
    result = run_main("--overlays", str(overlays), "--dist", str(dist_copy))
    assert result.returncode == 2
    assert "overlays/clinic.yaml" in result.stderr and expected in result.stderr, result.stderr
    assert tree_bytes(dist_copy) == before
    assert not list(tmp_path.glob(".dist-staging-*"))


@pytest.mark.parametrize("variable,value,expected", [
    ("GRAFANA_MAX_REPLICAS", "three", "env GRAFANA_MAX_REPLICAS='three': autoscaling.grafana.max_replicas must be a whole number"),
    ("ENABLE_AUTOSCALING", "yes", "env ENABLE_AUTOSCALING='yes': autoscaling.enabled must be 0 or 1"),
    ("HPA_CPU_TARGET", "170", "(set by env HPA_CPU_TARGET): autoscaling.cpu_target=170 Input should be less than or equal to 100"),
    ("PROMETHEUS_RETENTION", "30days", "(set by env PROMETHEUS_RETENTION): prometheus.retention='30days' must be a duration"),
])
def test_bad_environment_value_names_variable_and_key(variable, value, expected, dist_copy):
    before = tree_bytes(dist_copy)
    result = run_main("--dist", str(dist_copy), env=clean_env(**{variable: value}))
    assert result.returncode == 2 and expected in result.stderr, result.stderr
    assert tree_bytes(dist_copy) == before


def test_unknown_overlay_is_refused(dist_copy):
    result = run_main("--overlay", "clinc", "--dist", str(dist_copy))
    assert result.returncode == 2 and "overlay 'clinc' does not exist; available: clinic, hospital, hospital-elk, large" in result.stderr


def _objects(path):
    return load_tree(path)


def test_environment_overrides_apply_and_are_printed(tmp_path):
    out = tmp_path / "dist"
    env = clean_env(PROMETHEUS_RETENTION="7d", ALERTMANAGER_MAX_REPLICAS="5", HPA_MEMORY_TARGET="75",
                    MONITORING_NAMESPACE="observability", AGENTS_NAMESPACE="observability-agents")
    result = run_main("--overlay", "hospital", "--dist", str(out), env=env)
    assert result.returncode == 0, result.stderr
    assert "override hospital: PROMETHEUS_RETENTION sets prometheus.retention = '7d' (overlay: '30d')" in result.stdout
    assert "override hospital: ALERTMANAGER_MAX_REPLICAS sets autoscaling.alertmanager.max_replicas = 5 (overlay: 3)" in result.stdout
    objects = _objects(out / "hospital")
    prometheus = next(o for o in objects if o["kind"] == "Prometheus")
    assert prometheus["spec"]["retention"] == "7d"
    hpa = next(o for o in objects if o["kind"] == "HorizontalPodAutoscaler" and o["spec"]["scaleTargetRef"]["kind"] == "Alertmanager")
    assert hpa["spec"]["maxReplicas"] == 5
    assert {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["spec"]["metrics"]} == \
        {"cpu": 70, "memory": 75}
    # the stack's root CA alone lives in cert-manager's namespace (tls.ca_namespace), where its ClusterIssuer reads it
    assert {o["metadata"].get("namespace") for o in objects} == {None, "observability", "observability-agents",
                                                                 "cert-manager"}
    assert [o["kind"] for o in objects if o["metadata"].get("namespace") == "cert-manager"] == ["Certificate"]


def test_disabling_autoscaling_removes_every_hpa_and_pins_replicas(tmp_path):
    out = tmp_path / "dist"
    result = run_main("--overlay", "hospital", "--dist", str(out), env=clean_env(ENABLE_AUTOSCALING="0"))
    assert result.returncode == 0, result.stderr
    objects = _objects(out / "hospital")
    assert not [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"]
    assert next(o for o in objects if o["kind"] == "Alertmanager")["spec"]["replicas"] == 2


def _render_with(tmp_path, overlay: str, extra: str):
    overlays = tmp_path / "overlays"
    shutil.copytree(ROOT / "overlays", overlays)
    (overlays / f"{overlay}.yaml").write_text((overlays / f"{overlay}.yaml").read_text() + extra)
    return run_main("--overlays", str(overlays), "--overlay", overlay, "--dist", str(tmp_path / "dist"))


def test_alerts_can_be_disabled_and_overridden_per_overlay(tmp_path):
    result = _render_with(tmp_path, "hospital", "alerting:\n  disabled: [NodeClockSkew]\n  overrides:\n"
                                                "    OpenEMRHighErrorRate: {for: 10m, severity: warning}\n")
    assert result.returncode == 0, result.stderr
    rules = {r["alert"]: r for o in load_tree(tmp_path / "dist" / "hospital") if o["kind"] == "PrometheusRule"
             for g in o["spec"]["groups"] for r in g["rules"] if "alert" in r}
    assert "NodeClockSkew" not in rules and "NodeMemoryHigh" in rules
    assert rules["OpenEMRHighErrorRate"]["for"] == "10m" and rules["OpenEMRHighErrorRate"]["labels"] == {"severity": "warning"}


@pytest.mark.parametrize("extra, expected", [
    ("alerting:\n  disabled: [NodeClockSkw]\n", "alerting.disabled: unknown alert 'NodeClockSkw'; alerts: "),
    ("alerting:\n  overrides:\n    Nope: {for: 5m}\n", "alerting.overrides.Nope: unknown alert; alerts: "),
    ("alerting:\n  overrides:\n    Watchdog: {sevrity: info}\n",
     "alerting.overrides.Watchdog.sevrity: unknown key; allowed here: for, severity"),
    # OpenEMR's HTTP alerts do not exist without OTeBPF: naming one is an error there.
    ("otebpf: {enabled: false}\nalerting:\n  disabled: [OpenEMRHighLatency]\n", "unknown alert 'OpenEMRHighLatency'"),
])
def test_bad_alert_names_in_overrides_stop_synth(tmp_path, extra, expected):
    result = _render_with(tmp_path, "clinic", extra)
    assert result.returncode == 2 and expected in result.stderr, result.stderr
    assert not (tmp_path / "dist").exists()
