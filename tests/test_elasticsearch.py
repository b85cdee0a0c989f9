"""logs.backend elasticsearch | both, rendered into temporary trees with LOGS_BACKEND: valid overlays
(schemas, ECK CRDs, flows, restricted profile, budget), the Job's request bodies and the saved searches
against what Elasticsearch accepts and indexes, and a switch that changes only what it should."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import DIST, OVERLAYS, ROOT, clean_env, overlay_config, run_main
from elasticsearch_variants import (baseline, bodies, fluent_bit, flatten, objects_of, one, plan,  # noqa: F401
                                    variant)
from stackgen import validate
from stackgen.validate import stage_objects
from stackgen.flows import Address, flow_allowed
from stackgen.manifests import Manifests, Pod

FIELDS = yaml.safe_load((ROOT / "tests" / "fixtures" / "eck" / "elasticsearch-api-fields.yaml").read_text())


def test_variants_validate_schemas_crds_flows_and_pod_security(variant):
    _, tree = variant
    assert validate.validate_tree(tree) == []


def test_custom_resources_are_checked_against_the_eck_crds(variant):
    _, tree = variant
    cluster = one(objects_of(tree, "clinic"), "Elasticsearch", "elasticsearch")
    assert validate.schema_problems(cluster, ()) == []
    broken = json.loads(json.dumps(cluster))
    broken["spec"]["nodeSets"][0]["replicas"] = 1  # the field is `count`
    assert any("replicas" in p for p in validate.schema_problems(broken, ()))


def test_nodes_sized_spread_encrypted_heap_at_half_and_tls_never_disabled(variant):
    _, tree = variant
    for overlay, nodes in (("clinic", 1), ("hospital", 3)):
        objects = objects_of(tree, overlay)
        spec = one(objects, "Elasticsearch", "elasticsearch")["spec"]
        node_set = spec["nodeSets"][0]
        assert node_set["count"] == nodes
        claim = node_set["volumeClaimTemplates"][0]
        assert claim["metadata"]["name"] == "elasticsearch-data"
        storage_class = one(objects, "StorageClass", claim["spec"]["storageClassName"])
        assert storage_class["parameters"]["encrypted"] == "true" and storage_class["parameters"]["type"] == "gp3"
        container = node_set["podTemplate"]["spec"]["containers"][0]
        limit = container["resources"]["limits"]["memory"]
        heap = int(re.search(r"-Xmx(\d+)m", next(e["value"] for e in container["env"] if e["name"] == "ES_JAVA_OPTS")).group(1))
        assert heap * 2**20 * 2 == int(limit.removesuffix("Gi")) * 2**30 if limit.endswith("Gi") else True
        assert container["resources"]["requests"]["memory"] == limit
        spread = node_set["podTemplate"]["spec"].get("topologySpreadConstraints", [])
        assert ("topology.kubernetes.io/zone" in {c["topologyKey"] for c in spread}) == (nodes > 1)
        assert not spec.get("http", {}).get("tls", {}).get("selfSignedCertificate", {}).get("disabled")
        replicas = one(objects, "ConfigMap", "elasticsearch-setup")
        assert plan(objects)["requests"][1]["body"]["template"]["settings"]["index.number_of_replicas"] <= nodes - 1, replicas


def test_snapshots_use_the_web_identity_token_at_repository_s3s_fixed_path(variant):
    _, tree = variant
    pod = one(objects_of(tree, "clinic"), "Elasticsearch", "elasticsearch")["spec"]["nodeSets"][0]["podTemplate"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    mount = next(m for m in container["volumeMounts"] if m["name"] == "aws-web-identity-token")
    volume = next(v for v in pod["volumes"] if v["name"] == "aws-web-identity-token")
    token = volume["projected"]["sources"][0]["serviceAccountToken"]
    # $ES_PATH_CONF/repository-s3/aws-web-identity-token-file, ES_PATH_CONF being the image's config dir.
    assert f"{mount['mountPath']}/{token['path']}" == "/usr/share/elasticsearch/config/repository-s3/aws-web-identity-token-file"
    assert env["AWS_WEB_IDENTITY_TOKEN_FILE"] == f"{mount['mountPath']}/{token['path']}"
    assert token["audience"] == "sts.amazonaws.com" and env["AWS_ROLE_ARN"].startswith("arn:aws:iam::")


def keys_ok(body: dict, allowed: list[str], where: str) -> None:
    unknown = set(body) - set(allowed)
    assert not unknown, f"{where}: {sorted(unknown)} not accepted by Elasticsearch"


def test_job_request_bodies_use_the_pinned_versions_field_names(variant):
    _, tree = variant
    requests = bodies(objects_of(tree, "hospital"))
    ilm = requests["/_ilm/policy/kubernetes-logs"]
    keys_ok(ilm, FIELDS["ilm_put_body"]["keys"], "ILM request")
    keys_ok(ilm["policy"], FIELDS["ilm_policy"]["keys"], "ILM policy")
    for phase, body in ilm["policy"]["phases"].items():
        assert phase in FIELDS["ilm_phase_names"]
        keys_ok(body, FIELDS["ilm_phase"]["keys"], phase)
        keys_ok(body["actions"], FIELDS["ilm_actions"][phase], f"{phase} actions")
    keys_ok(ilm["policy"]["phases"]["hot"]["actions"]["rollover"], FIELDS["rollover"]["keys"], "rollover")
    keys_ok(ilm["policy"]["phases"]["delete"]["actions"]["delete"], FIELDS["delete"]["keys"], "delete")
    template = requests["/_index_template/kubernetes-logs"]
    keys_ok(template, FIELDS["index_template"]["keys"], "index template")
    keys_ok(template["template"], FIELDS["index_template_template"]["keys"], "template")
    keys_ok(template["data_stream"], FIELDS["data_stream_template"]["keys"], "data_stream")
    keys_ok(template["template"]["settings"], FIELDS["index_settings"], "settings")
    mappings = template["template"]["mappings"]
    keys_ok(mappings, FIELDS["mappings_root"]["keys"], "mappings")
    for name, field in flatten(mappings["properties"]).items():
        keys_ok(field, FIELDS["field_parameters"], name)
        assert field.get("type", "object") in FIELDS["field_types"], name
    repository = requests["/_snapshot/s3-snapshots"]
    keys_ok(repository, FIELDS["repository"]["keys"], "repository")
    keys_ok(repository["settings"], FIELDS["s3_repository_settings"]["keys"], "s3 settings")
    slm = requests["/_slm/policy/nightly-snapshots"]
    keys_ok(slm, FIELDS["slm_policy"]["keys"], "SLM")
    keys_ok(slm["config"], FIELDS["slm_config"]["keys"], "SLM config")
    keys_ok(slm["retention"], FIELDS["slm_retention"]["keys"], "SLM retention")
    for path, body in requests.items():
        if path.startswith("/_security/role/"):
            keys_ok(body, FIELDS["role"]["keys"], path)
            assert set(body.get("cluster", [])) <= set(FIELDS["cluster_privileges"]), path
            for entry in body.get("indices", []):
                keys_ok(entry, FIELDS["role_indices"]["keys"], path)
                assert set(entry["privileges"]) <= set(FIELDS["index_privileges"]), path


def test_retention_and_snapshots_are_enforced_by_what_the_job_applies(variant):
    _, tree = variant
    objects = objects_of(tree, "clinic")
    requests = bodies(objects)
    policy = requests["/_ilm/policy/kubernetes-logs"]["policy"]["phases"]
    assert policy["delete"] == {"min_age": "30d", "actions": {"delete": {}}}
    template = requests["/_index_template/kubernetes-logs"]
    # The template names the policy that exists, and matches the data stream Fluent Bit writes to.
    assert template["template"]["settings"]["index.lifecycle.name"] == "kubernetes-logs"
    output = next(o for o in fluent_bit(objects)["pipeline"]["outputs"] if o["name"] == "es")
    assert any(re.fullmatch(p.replace("*", ".*"), output["index"]) for p in template["index_patterns"])
    assert output["write_operation"] == "create" and "data_stream" in template  # data streams take create only
    slm = requests["/_slm/policy/nightly-snapshots"]
    assert f"/_snapshot/{slm['repository']}" in requests and slm["retention"]["expire_after"] == "30d"
    assert list(requests).index("/_ilm/policy/kubernetes-logs") < list(requests).index("/_index_template/kubernetes-logs")


def test_a_different_retention_reaches_the_ilm_policy(tmp_path):
    overlay = tmp_path / "overlays"
    overlay.mkdir()
    (overlay / "clinic.yaml").write_text("logs: {backend: elasticsearch}\nelasticsearch: {retention: 90d}\n")
    result = run_main("--overlays", str(overlay), "--dist", str(tmp_path / "dist"))
    assert result.returncode == 0, result.stderr
    phases = bodies(objects_of(tmp_path / "dist", "clinic"))["/_ilm/policy/kubernetes-logs"]["policy"]["phases"]
    assert phases["delete"]["min_age"] == "90d"


def test_no_credential_is_rendered(variant):
    _, tree = variant
    objects = objects_of(tree, "clinic")
    program = one(objects, "ConfigMap", "elasticsearch-setup")["data"].pop("setup.py")  # code, not values
    assert "token_urlsafe" in program  # passwords are generated in the cluster
    rendered = json.dumps(objects)
    # Every password-like value is a reference: an environment variable, a file, or a Secret key.
    values = re.findall(r'(?i)(?:password|passwd)\\?"?\s*:\s*\\?"?([^\s"\\,}]+)', rendered)
    assert values and all(v.startswith(("${", "$__file{")) for v in values), values
    assert not [o for o in objects if o["kind"] == "Secret" and ("elastic" in o["metadata"]["name"] or "kibana" in o["metadata"]["name"])]
    assert all("password" not in json.dumps(step["body"]) for step in plan(objects)["requests"])


def pod(m: Manifests, name: str):
    return next(p for p in m.pods() if p.labels.get("app.kubernetes.io/name") == name)


REQUIRED = [  # (from, to, port)
    ("fluent-bit", "elasticsearch", 9200), ("kibana", "elasticsearch", 9200),
    ("elasticsearch-setup", "elasticsearch", 9200), ("kibana-saved-searches", "kibana", 5601),
    ("elasticsearch", "elasticsearch", 9300), ("eck-operator", "elasticsearch", 9200),
    ("elasticsearch-exporter", "elasticsearch", 9200), ("grafana", "elasticsearch", 9200),
    ("prometheus", "elasticsearch-exporter", 9114), ("prometheus", "eck-operator", 9090),
]
DENIED = [
    ("fluent-bit", "elasticsearch", 9300), ("kibana", "elasticsearch", 9300), ("kibana-saved-searches", "elasticsearch", 9200),
    ("grafana", "kibana", 5601), ("eck-operator", "kibana", 5601), ("elasticsearch-exporter", "kibana", 5601),
    ("fluent-bit", "kibana", 5601),
]


def test_flows_required_are_allowed_and_the_rest_denied(variant):
    _, tree = variant
    m = Manifests(objects_of(tree, "hospital"))
    for source, destination, port in REQUIRED:
        assert flow_allowed(m, pod(m, source), pod(m, destination), port), (source, destination, port)
    for source, destination, port in DENIED:
        assert not flow_allowed(m, pod(m, source), pod(m, destination), port), (source, destination, port)
    api = Address("10.100.0.1")
    for source in ("eck-operator", "elasticsearch-setup"):
        assert flow_allowed(m, pod(m, source), api, 443)
    for source in ("kibana", "elasticsearch-exporter", "kibana-saved-searches"):
        assert not flow_allowed(m, pod(m, source), api, 443), source
    openemr = Pod("openemr", "openemr", {"app": "openemr"}, {})  # the application's pods, outside the overlay
    assert not flow_allowed(m, openemr, pod(m, "elasticsearch"), 9200)


def test_the_operator_manages_only_the_stack_namespace_with_a_namespaced_role(variant):
    _, tree = variant
    objects = objects_of(tree, "clinic")
    config = yaml.safe_load(one(objects, "ConfigMap", "eck-operator")["data"]["eck.yaml"])
    assert config["namespaces"] == ["monitoring"] and config["operator-namespace"] == "monitoring"
    assert config["enable-webhook"] is False
    assert not [o for o in objects if o["kind"] == "ValidatingWebhookConfiguration"]
    cluster_rules = one(objects, "ClusterRole", "monitoring-eck-operator")["rules"]
    assert cluster_rules == [{"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"],
                              "verbs": ["get", "list", "watch"]}]
    role = one(objects, "Role", "eck-operator")
    assert role["metadata"]["namespace"] == "monitoring"
    assert not any("*" in r["verbs"] or "*" in r["resources"] for r in role["rules"])
    crds = yaml.safe_load((tree / "clinic" / "crds" / "kustomization.yaml").read_text())["resources"]
    assert "../../crds/eck-v3.5.0" in crds and (tree / "crds" / "eck-v3.5.0" / "all-crds.yaml").exists()
    operators = [o for o in yaml.safe_load_all((tree / "clinic" / "operators" / "eck-operator.yaml").read_text()) if o]
    assert one(operators, "Deployment", "eck-operator")  # applied with the operators, before the stack


def files_and_objects(tree: Path, overlay: str) -> dict[str, dict[str, str]]:
    found = {}
    for path in sorted((tree / overlay).rglob("*.yaml")):
        for obj in yaml.safe_load_all(path.read_text()):
            if obj and "metadata" in obj:
                key = f"{obj['kind']}/{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"
                found[key] = json.dumps(obj, sort_keys=True)
    return found


def uses_loki(serialized: str) -> bool:
    """An object that exists only for Loki: Loki's own, the events shipper (Loki only), a dashboard on Loki."""
    obj = json.loads(serialized)
    name = obj["metadata"]["name"]
    dashboard_on_loki = obj["kind"] == "ConfigMap" and name.startswith("grafana-dashboard-") and any(
        '"uid": "loki"' in value for value in (obj.get("data") or {}).values())
    return "loki" in name or "fluent-bit-events" in name or dashboard_on_loki


def test_switching_the_backend_changes_only_what_it_should(variant, baseline):
    backend, tree = variant
    before, after = files_and_objects(baseline, "hospital"), files_and_objects(tree, "hospital")
    removed, added = set(before) - set(after), set(after) - set(before)
    changed = {key for key in set(before) & set(after) if before[key] != after[key]}
    elk = ("elasticsearch", "kibana", "eck-operator", "log-shipper", "log-reader", "metrics-reader")
    assert all(any(word in key for word in elk) for key in added), sorted(added)
    if backend == "both":
        assert removed == set()
    else:
        assert removed and all(uses_loki(before[key]) for key in removed), sorted(k for k in removed if not uses_loki(before[k]))
    allowed = {"ConfigMap/monitoring-agents/fluent-bit-config", "DaemonSet/monitoring-agents/fluent-bit",
               "NetworkPolicy/monitoring-agents/fluent-bit", "ConfigMap/monitoring/grafana-datasources",
               "Deployment/monitoring/grafana", "NetworkPolicy/monitoring/grafana", "NetworkPolicy/monitoring/prometheus",
               "PrometheusRule/monitoring/logs-traces-metrics",
               # Fluent Bit's board links to Elasticsearch's (added) board.
               "ConfigMap/monitoring/grafana-dashboard-stack-fluent-bit"}
    # Dashboards keep their panels on other datasources; the events shipper's alert goes with it (Loki only).
    allowed |= {key for key in changed if uses_loki(before[key])}
    if backend == "elasticsearch":
        allowed.add("PrometheusRule/monitoring/stack")
    assert changed <= allowed, sorted(changed - allowed)
    assert "PrometheusRule/monitoring/elasticsearch" in added


def test_only_the_overlays_that_choose_it_render_elasticsearch(overlay, objects):
    chose = overlay_config(overlay).logs.backend != "loki"
    assert bool({o["kind"] for o in objects} & {"Elasticsearch", "Kibana", "Job"}) is chose
    assert (DIST / overlay / "operators" / "eck-operator.yaml").exists() is chose


def test_ecks_crds_are_applied_first_only_where_an_overlay_renders_elasticsearch():
    rendering = [name for name in OVERLAYS if overlay_config(name).logs.backend != "loki"]
    assert rendering == ["hospital-elk"]
    for name in OVERLAYS:
        crds = yaml.safe_load((DIST / name / "crds" / "kustomization.yaml").read_text())["resources"]
        assert ("../../crds/eck-v3.5.0" in crds) is (name in rendering), name
        applied = {o["spec"]["group"] for o in stage_objects(DIST / name / "crds")}
        assert ("elasticsearch.k8s.elastic.co" in applied) is (name in rendering), name


def test_an_overlay_that_does_not_fit_is_refused_naming_the_budget_keys(tmp_path):
    # large's three nodes hold `both` (4.71 CPU / 17.18 GiB); the seed's two-node budget would not.
    overlays = tmp_path / "overlays"
    overlays.mkdir()
    (overlays / "large.yaml").write_text((ROOT / "overlays" / "large.yaml").read_text())
    (overlays / "tight.yaml").write_text("base: large\nbudget: {cpu: '4', memory: 16Gi}\n")
    result = run_main("--overlays", str(overlays), "--dist", str(tmp_path / "dist"), "--overlay", "tight",
                      env=clean_env(LOGS_BACKEND="both"))
    assert result.returncode != 0
    assert "budget.cpu=4" in result.stderr and "budget.memory=16Gi" in result.stderr and "logs.budget" in result.stderr


@pytest.mark.parametrize("patch, expected", [
    ("logs: {backend: opensearch}", "logs.backend"),
    ("elasticsearch: {nodes: 1, index_replicas: 1}", "index_replicas=1 must be <= nodes - 1"),
    ("elasticsearch: {resources: {cpu_request: 100m, memory_request: 512Mi, cpu_limit: '1', memory_limit: 1Gi}}",
     "memory_request=512Mi must equal memory_limit"),
    ("elasticsearch: {retention: 30days}", "elasticsearch.retention"),
])
def test_bad_elasticsearch_settings_stop_synthesis_naming_the_key(tmp_path, patch, expected):
    overlays = tmp_path / "overlays"
    overlays.mkdir()
    (overlays / "clinic.yaml").write_text(patch + "\n")
    result = run_main("--overlays", str(overlays), "--dist", str(tmp_path / "dist"))
    assert result.returncode != 0 and expected in result.stderr, result.stderr


def test_ecks_pods_are_held_to_the_restricted_profile_like_every_stack_pod(variant):
    """ECK runs what the podTemplate says: a template without its security context is caught by validate."""
    from stackgen import checks
    _, tree = variant
    objects = objects_of(tree, "clinic")
    assert checks.check_all(objects) == []
    cluster = one(objects, "Elasticsearch", "elasticsearch")
    del cluster["spec"]["nodeSets"][0]["podTemplate"]["spec"]["containers"][0]["securityContext"]
    assert any("elasticsearch" in p for p in checks.check_all(objects))


def test_the_operator_elects_its_leader_on_its_own_lease_only(variant):
    _, tree = variant
    rules = one(objects_of(tree, "clinic"), "Role", "eck-operator")["rules"]
    leases = [r for r in rules if r["resources"] == ["leases"]]
    assert {tuple(r["verbs"]) for r in leases if "resourceNames" not in r} == {("create",)}
    assert [r["resourceNames"] for r in leases if "resourceNames" in r] == [["elastic-operator-leader"]]


def test_capacity_counts_the_nodes_volumes_and_the_budget_they_run_on(variant, baseline):
    from stackgen import capacity
    backend, tree = variant
    es = one(objects_of(tree, "hospital"), "Elasticsearch", "elasticsearch")["spec"]["nodeSets"][0]
    claims = es["count"] * int(es["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"].removesuffix("Gi"))
    before = capacity.volumes(objects_of(baseline, "hospital"))["gp3-monitoring-encrypted"]
    after = capacity.volumes(objects_of(tree, "hospital"))["gp3-monitoring-encrypted"]
    loki = sum(int(c["spec"]["resources"]["requests"]["storage"].removesuffix("Gi")) * o["spec"]["replicas"]
               for o in objects_of(baseline, "hospital") if o["kind"] == "StatefulSet" and o["metadata"]["name"].startswith("loki")
               for c in o["spec"].get("volumeClaimTemplates", []))
    assert after - before == claims - (loki if backend == "elasticsearch" else 0)
    nodes = overlay_config("hospital").logs.budget.nodes
    assert f"once per node of the budget ({nodes})" in (tree / "hospital" / "CAPACITY.md").read_text()


def test_grafana_gets_the_elasticsearch_datasource_and_loses_loki_only_without_it(variant):
    backend, tree = variant
    objects = objects_of(tree, "clinic")
    sources = {s["uid"]: s for s in yaml.safe_load(one(objects, "ConfigMap", "grafana-datasources")["data"]["datasources.yaml"])["datasources"]}
    es = sources["elasticsearch"]
    assert es["type"] == "elasticsearch" and es["url"] == "https://elasticsearch-es-http.monitoring.svc.cluster.local:9200"
    assert es["jsonData"]["index"] == "kubernetes-logs*" and es["jsonData"]["tlsAuthWithCACert"] is True
    assert es["secureJsonData"] == {"basicAuthPassword": "$__file{/etc/grafana/elasticsearch/password}",
                                    "tlsCACert": "$__file{/etc/grafana/elasticsearch/ca.crt}"}
    assert ("loki" in sources) == (backend == "both")
    links = json.dumps(sources["tempo"]["jsonData"])
    assert ('"datasourceUid": "loki"' in links) == (backend == "both")
    deployment = one(objects, "Deployment", "grafana")["spec"]["template"]["spec"]
    volume = next(v for v in deployment["volumes"] if v["name"] == "elasticsearch")
    assert volume["secret"]["secretName"] == "elasticsearch-grafana"
    grafana_user = next(u for u in plan(objects)["users"] if u["username"] == es["basicAuthUser"])
    assert grafana_user["secret"]["name"] == "elasticsearch-grafana" and grafana_user["with_ca"]


def test_the_catalogs_optional_monitors_are_rendered_by_the_switch(variant):
    from stackgen import catalog
    _, tree = variant
    optional = {m for c in catalog.load()["components"].values() if c.get("rendered_with") for m in c.get("monitors", [])}
    rendered = {o["metadata"]["name"] for o in objects_of(tree, "clinic") if o["kind"] in ("ServiceMonitor", "PodMonitor")}
    assert optional == {"eck-operator", "elasticsearch-exporter"} and optional <= rendered
