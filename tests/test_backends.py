"""Loki, Tempo and Mimir: topology per overlay, retention that is enforced, replication that fits,
configuration keys of the pinned versions, IRSA on everything that touches S3, and the wiring."""
from __future__ import annotations

import pytest
import yaml
from conftest import DIST, OVERLAYS, clean_env, renders_elasticsearch, run_main, size_of, tree_bytes
from stackgen.checks.addresses import check_urls, resolve_url
from stackgen.checks.config_keys import KEY_TREES, config_key_problems
from stackgen.flows import flow_allowed
from stackgen.manifests import Manifests
from stackgen.validate import load_tree



def config_of(objects, backend) -> dict:
    config_map = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == f"{backend}-config")
    return yaml.safe_load(config_map["data"]["config.yaml"])


def workloads(objects, backend) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] in ("Deployment", "StatefulSet")
            and o["metadata"]["name"].split("-")[0] == backend and o["metadata"]["name"] != backend + "-memberlist"}


def replicas(objects, name) -> int:
    obj = next(o for o in objects if o["kind"] in ("Deployment", "StatefulSet") and o["metadata"]["name"] == name)
    return obj["spec"].get("replicas", 1)


@pytest.mark.parametrize("backend", sorted(KEY_TREES))
def test_configs_only_use_keys_of_the_pinned_versions(overlay, backend):
    """The key trees are vendored in the catalog (tools/import_pinned.py): the check runs in any clone."""
    config = config_of(load_tree(DIST / overlay), backend)
    assert config_key_problems(backend, config) == []
    misspelt = {**config, "compactor": {**config.get("compactor", {}), "retention_enable": True}}
    assert any("retention_enable" in p for p in config_key_problems(backend, misspelt))


def test_topology_follows_the_overlay():
    expected = {
        "clinic": {"loki": {"loki"}, "tempo": {"tempo"}, "mimir": {"mimir"}},
        "hospital": {"loki": {"loki-read", "loki-write", "loki-backend"},
                     "tempo": {"tempo-distributor", "tempo-ingester", "tempo-querier", "tempo-query-frontend",
                               "tempo-compactor", "tempo-metrics-generator"},
                     "mimir": {"mimir-distributor", "mimir-ingester", "mimir-querier", "mimir-query-frontend",
                               "mimir-query-scheduler", "mimir-store-gateway", "mimir-compactor"}},
    }
    expected["large"] = expected["hospital"]
    for overlay in OVERLAYS:
        objects = load_tree(DIST / overlay)
        for backend, names in expected[size_of(overlay)].items():
            assert set(workloads(objects, backend)) == names, (overlay, backend)


def test_hpas_only_on_stateless_parts_and_pdbs_on_replicated_stateful_ones(objects):
    hpa_targets = {h["spec"]["scaleTargetRef"]["name"] for h in objects if h["kind"] == "HorizontalPodAutoscaler"}
    stateful = {o["metadata"]["name"] for o in objects if o["kind"] == "StatefulSet"}
    assert not hpa_targets & stateful
    pdbs = {p["metadata"]["name"] for p in objects if p["kind"] == "PodDisruptionBudget"}
    assert {name for name in stateful if replicas(objects, name) > 1} <= pdbs


def test_retention_is_rendered_and_enforced(objects):
    loki, tempo, mimir = (config_of(objects, b) for b in ("loki", "tempo", "mimir"))
    assert loki["limits_config"]["retention_period"] == "720h"
    assert loki["compactor"]["retention_enabled"] is True and loki["compactor"]["delete_request_store"] == "s3"
    assert tempo["compactor"]["compaction"]["block_retention"] == "2160h"  # 90 days
    assert mimir["limits"]["compactor_blocks_retention_period"] == "365d"


def test_replication_factors_never_exceed_the_replicas_rendered(objects):
    loki, tempo, mimir = (config_of(objects, b) for b in ("loki", "tempo", "mimir"))
    members = lambda name, single: replicas(objects, name) if any(
        o["metadata"]["name"] == name for o in objects if o["kind"] == "StatefulSet") else replicas(objects, single)
    assert loki["common"]["replication_factor"] <= members("loki-write", "loki")
    assert tempo["ingester"]["lifecycler"]["ring"]["replication_factor"] <= members("tempo-ingester", "tempo")
    assert mimir["ingester"]["ring"]["replication_factor"] <= members("mimir-ingester", "mimir")
    assert mimir["store_gateway"]["sharding_ring"]["replication_factor"] <= members("mimir-store-gateway", "mimir")


def test_every_pod_touching_s3_runs_under_an_irsa_service_account(objects):
    accounts = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ServiceAccount"}
    for backend in ("loki", "tempo", "mimir"):
        for workload in workloads(objects, backend).values():
            account = accounts[workload["spec"]["template"]["spec"]["serviceAccountName"]]
            assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")
            assert "access_key" not in yaml.safe_dump(config_of(objects, backend))
    assert "eks.amazonaws.com/role-arn" in accounts["grafana"]["metadata"]["annotations"]
    assert "endpoint" not in config_of(objects, "loki")["common"]["storage"]["s3"]


def test_wiring_resolves_to_rendered_service_ports(manifests):
    objects = manifests.objects
    prometheus = next(o for o in objects if o["kind"] == "Prometheus")
    push = prometheus["spec"]["remoteWrite"][0]["url"]
    assert push.endswith(":8080/api/v1/push") and resolve_url(manifests, push) is None
    tempo = config_of(objects, "tempo")
    generator = tempo["metrics_generator"]["storage"]["remote_write"][0]["url"]
    assert generator == push
    receivers = tempo["distributor"]["receivers"]["otlp"]["protocols"]
    assert (receivers["grpc"]["endpoint"], receivers["http"]["endpoint"]) == ("0.0.0.0:4317", "0.0.0.0:4318")
    for backend in ("loki", "tempo", "mimir"):
        for member in config_of(objects, backend)["memberlist"]["join_members"]:
            assert resolve_url(manifests, member) is None
        gossip = next(o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == f"{backend}-memberlist")
        assert gossip["spec"]["clusterIP"] == "None" and gossip["spec"]["publishNotReadyAddresses"] is True
    assert check_urls(manifests) == []


def test_seven_datasources_with_correlations(objects):
    config_map = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "grafana-datasources")
    sources = {d["uid"]: d for d in yaml.safe_load(config_map["data"]["datasources.yaml"])["datasources"]}
    elasticsearch = {"elasticsearch"} if renders_elasticsearch(objects) else set()
    assert set(sources) == {"prometheus", "mimir", "loki", "tempo", "alertmanager", "cloudwatch", "x-ray"} | elasticsearch
    assert sources["loki"]["jsonData"]["derivedFields"][0]["datasourceUid"] == "tempo"
    tempo = sources["tempo"]["jsonData"]
    assert tempo["tracesToLogsV2"]["datasourceUid"] == "loki"
    assert tempo["tracesToMetrics"]["datasourceUid"] == tempo["serviceMap"]["datasourceUid"] == "mimir"
    for uid in ("prometheus", "mimir"):
        assert sources[uid]["jsonData"]["exemplarTraceIdDestinations"][0]["datasourceUid"] == "tempo"
    for uid in ("cloudwatch", "x-ray"):
        assert sources[uid]["jsonData"]["authType"] == "default"


def pod(manifests, name):
    return next(p for p in manifests.pods() if p.labels.get("app.kubernetes.io/name") == name)


def test_backend_flows(manifests):
    hospital = Manifests(load_tree(DIST / "hospital"))
    allowed = [("prometheus", "mimir-distributor", 8080), ("tempo-metrics-generator", "mimir-distributor", 8080),
               ("grafana", "loki-read", 3100), ("grafana", "tempo-query-frontend", 3200),
               ("grafana", "mimir-query-frontend", 8080), ("loki-read", "loki-write", 9095),
               ("mimir-querier", "mimir-store-gateway", 9095), ("tempo-ingester", "tempo-distributor", 7946),
               ("prometheus", "loki-write", 3100)]
    for source, destination, port in allowed:
        assert flow_allowed(hospital, pod(hospital, source), pod(hospital, destination), port), (source, destination)
    # memberlist is TCP only (dskit's TCPTransport): no UDP port is opened, to a peer or anyone
    assert not flow_allowed(hospital, pod(hospital, "mimir-ingester"), pod(hospital, "mimir-ingester"), 7946, "UDP")
    denied = [("grafana", "mimir-ingester", 9095), ("grafana", "loki-write", 3100), ("loki-read", "mimir-distributor", 8080),
              ("alertmanager", "tempo-distributor", 4317), ("kube-state-metrics", "loki-read", 3100)]
    for source, destination, port in denied:
        assert not flow_allowed(hospital, pod(hospital, source), pod(hospital, destination), port), (source, destination)


def test_loki_retention_override_changes_only_loki(fresh_dist, tmp_path):
    out = tmp_path / "dist"
    result = run_main("--dist", str(out), env=clean_env(LOKI_RETENTION="360h"))
    assert result.returncode == 0, result.stderr
    before, after = tree_bytes(fresh_dist), tree_bytes(out)
    changed = sorted(name for name in before if before[name] != after[name])
    # Loki's file changes; the capacity report re-estimates Loki's bucket; in Grafana's file only the two
    # dashboards that state the retention in force, and the checksum that rolls Grafana for them.
    assert changed == sorted(f"{overlay}/{name}" for overlay in OVERLAYS
                             for name in ("loki.yaml", "CAPACITY.md", "grafana.yaml"))
    assert config_of(load_tree(out / "clinic"), "loki")["limits_config"]["retention_period"] == "360h"
    old_grafana, new_grafana = (_by_name(load_tree(tree / "clinic")) for tree in (fresh_dist, out))
    differing = sorted(name for name in old_grafana if old_grafana[name] != new_grafana[name]
                       and name[0] in ("ConfigMap", "Deployment") and name[1].startswith("grafana"))
    assert differing == [("ConfigMap", "grafana-dashboard-openemr-audit"),
                         ("ConfigMap", "grafana-dashboard-stack-loki-retention"), ("Deployment", "grafana")]
    assert "360h" in new_grafana[("ConfigMap", "grafana-dashboard-openemr-audit")]["data"]["openemr-audit.json"]


def _by_name(objects: list[dict]) -> dict[tuple[str, str], dict]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}
