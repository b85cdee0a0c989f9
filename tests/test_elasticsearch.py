"""logs.backend elasticsearch | both, rendered into temporary trees with LOGS_BACKEND: valid overlays
(schemas, ECK CRDs, flows, restricted profile, budget), the Job's request bodies and the saved searches
against what Elasticsearch accepts and indexes, and a switch that changes only what it should."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import DIST, ROOT, clean_env, run_main
from luqum.parser import parser as lucene
from luqum.tree import SearchField
from stackgen import validate
from stackgen.components import es_shipping, saved_searches
from stackgen.components.elasticsearch_setup import MAPPING
from stackgen.flows import Address, flow_allowed
from stackgen.manifests import Manifests
from stackgen.validate import load_tree

FIELDS = yaml.safe_load((ROOT / "tests" / "fixtures" / "eck" / "elasticsearch-api-fields.yaml").read_text())
RENDERED = ("clinic", "hospital")


@pytest.fixture(scope="module", params=["elasticsearch", "both"])
def variant(request, tmp_path_factory) -> tuple[str, Path]:
    out = tmp_path_factory.mktemp(request.param) / "dist"
    args = [arg for name in RENDERED for arg in ("--overlay", name)]
    result = run_main("--dist", str(out), *args, env=clean_env(LOGS_BACKEND=request.param))
    assert result.returncode == 0, result.stderr
    return request.param, out


def objects_of(tree: Path, overlay: str) -> list[dict]:
    return load_tree(tree / overlay)


def one(objects, kind, name):
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


def plan(objects) -> dict:
    return json.loads(one(objects, "ConfigMap", "elasticsearch-setup")["data"]["plan.json"])


def bodies(objects) -> dict[str, dict]:
    return {step["path"]: step["body"] for step in plan(objects)["requests"]}


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


def flatten(properties: dict, prefix: str = "") -> dict[str, dict]:
    fields = {}
    for name, field in properties.items():
        fields[prefix + name] = field
        fields.update(flatten(field.get("properties", {}), f"{prefix}{name}."))
    return fields


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


def ndjson(objects) -> list[dict]:
    text = one(objects, "ConfigMap", "kibana-saved-searches")["data"]["saved-searches.ndjson"]
    return [json.loads(line) for line in text.splitlines()]


def test_the_15_saved_searches_parse_and_use_only_indexed_fields(variant):
    _, tree = variant
    objects = objects_of(tree, "clinic")
    saved = ndjson(objects)
    searches = [o for o in saved if o["type"] == "search"]
    views = {o["id"]: o for o in saved if o["type"] == "index-pattern"}
    assert len(searches) == 15 and len({s["id"] for s in searches}) == 15
    mapped = set(flatten(bodies(objects)["/_index_template/kubernetes-logs"]["template"]["mappings"]["properties"]))
    for search in searches:
        source = json.loads(search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        assert source["query"]["language"] == "lucene"
        tree_ = lucene.parse(source["query"]["query"])  # raises on a syntax error
        fields = {node.name for node in walk(tree_) if isinstance(node, SearchField)}
        assert fields and fields <= mapped, (search["id"], fields - mapped)
        assert set(search["attributes"]["columns"]) <= mapped, search["id"]
        (reference,) = search["references"]
        assert reference["name"] == source["indexRefName"] and reference["id"] in views
    view = next(iter(views.values()))["attributes"]
    assert view["timeFieldName"] in mapped and view["title"] == "kubernetes-logs*"


def walk(node):
    yield node
    for child in node.children:
        yield from walk(child)


def test_the_app_namespace_is_what_the_searches_filter_on(variant):
    _, tree = variant
    for search in (o for o in ndjson(objects_of(tree, "clinic")) if o["type"] == "search"):
        assert "k8s_namespace:openemr" in search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"]


def test_the_import_job_posts_the_ndjson_with_overwrite_to_kibana(variant):
    _, tree = variant
    objects = objects_of(tree, "clinic")
    job = one(objects, "Job", "kibana-saved-searches")
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[3] == "kibana" and command[4].startswith("https://kibana-kb-http.monitoring.svc")
    script = one(objects, "ConfigMap", "elasticsearch-setup")["data"]["setup.py"]
    assert "/api/saved_objects/_import?overwrite=true" in script and '"kbn-xsrf": "true"' in script


APACHE_ACCESS = ('10.0.3.7 - - [02/Dec/2026:03:04:05 +0000] "GET /interface/patient_file/summary/demographics.php?pid=4 '
                 'HTTP/1.1" 200 5123 "https://emr.example.org/interface/main/tabs/main.php" "Mozilla/5.0"')
APACHE_ERROR = ("[Wed Dec 02 03:04:05.123456 2026] [php:error] [pid 77] [client 10.0.3.7:51234] PHP Fatal error:  "
                "Uncaught Exception: boom in /var/www/localhost/htdocs/openemr/library/sql.inc.php:112")
PHP_ERROR = "[02-Dec-2026 03:04:05 UTC] PHP Warning:  Undefined variable $pid in /var/www/openemr/interface/login/login.php on line 33"


def python_regex(parser: dict) -> re.Pattern:
    return re.compile(parser["regex"].replace("(?<", "(?P<"))


@pytest.mark.parametrize("parser, line, expected", [
    (es_shipping.APACHE_ACCESS, APACHE_ACCESS, {"client_ip": "10.0.3.7", "method": "GET", "status": "200", "bytes": "5123",
                                                "path": "/interface/patient_file/summary/demographics.php?pid=4"}),
    (es_shipping.APACHE_ACCESS, APACHE_ACCESS.replace(" 5123 ", " - "), {"status": "200", "bytes": None}),
    (es_shipping.APACHE_ERROR, APACHE_ERROR, {"apache_module": "php", "apache_level": "error", "apache_pid": "77",
                                              "apache_client": "10.0.3.7:51234"}),
    (es_shipping.PHP_ERROR, APACHE_ERROR.split("] ", 4)[-1], {"php_level": "Fatal error", "php_line": "112",
                                                             "php_file": "/var/www/localhost/htdocs/openemr/library/sql.inc.php"}),
    (es_shipping.PHP_ERROR, PHP_ERROR, {"php_level": "Warning", "php_line": "33",
                                        "php_file": "/var/www/openemr/interface/login/login.php"}),
])
def test_parsers_turn_openemr_lines_into_the_mapped_fields(parser, line, expected):
    match = python_regex(parser).search(line)
    assert match, line
    assert {k: match.group(k) for k in expected} == expected
    assert set(match.groupdict()) <= set(flatten(MAPPING)), set(match.groupdict()) - set(flatten(MAPPING))
    typed = dict(item.split(":") for item in parser.get("types", "").split())
    assert all(flatten(MAPPING)[name]["type"] in ("short", "integer", "long") for name in typed)


def test_an_access_line_is_not_read_as_an_error_and_back():
    assert not python_regex(es_shipping.APACHE_ERROR).search(APACHE_ACCESS)
    assert not python_regex(es_shipping.APACHE_ACCESS).search(APACHE_ERROR)


def fluent_bit(objects) -> dict:
    return yaml.safe_load(one(objects, "ConfigMap", "fluent-bit-config")["data"]["fluent-bit.yaml"])


def test_fluent_bit_ships_to_elasticsearch_over_verified_tls_with_its_own_user_and_disk_buffer(variant):
    backend, tree = variant
    objects = objects_of(tree, "clinic")
    config = fluent_bit(objects)
    outputs = {o["name"]: o for o in config["pipeline"]["outputs"]}
    assert ("loki" in outputs) == (backend == "both")
    es = outputs["es"]
    assert es["host"] == "elasticsearch-es-http.monitoring.svc.cluster.local" and es["port"] == 9200
    assert (es["tls"], es["tls.verify"], es["tls.verify_hostname"]) == ("on", "on", "on")
    assert es["http_user"] == "fluent-bit" and es["http_passwd"] == "${ELASTICSEARCH_PASSWORD}"
    assert es["retry_limit"] == "no_limits" and es["storage.total_limit_size"]
    daemon = one(objects, "DaemonSet", "fluent-bit")["spec"]["template"]["spec"]
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in daemon["containers"][0].get("env", []) if "valueFrom" in e}
    assert env["ELASTICSEARCH_PASSWORD"] == {"name": "elasticsearch-fluent-bit", "key": "password"}
    ca = next(v for v in daemon["volumes"] if v["name"] == "elasticsearch")
    assert ca["secret"]["secretName"] == "elasticsearch-fluent-bit"
    # The Job that writes that Secret writes it in Fluent Bit's namespace, with the CA and the password.
    shipper = next(u for u in plan(objects)["users"] if u["username"] == "fluent-bit")
    assert shipper["secret"] == {"namespace": "monitoring-agents", "name": "elasticsearch-fluent-bit"} and shipper["with_ca"]
    role = bodies(objects)[f"/_security/role/{shipper['roles'][0]}"]
    assert role == {"indices": [{"names": ["kubernetes-logs*"], "privileges": ["create_doc", "auto_configure"]}]}


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
    openemr = [p for p in Manifests(objects_of(tree, "hospital")).pods() if p.namespace == "openemr"]
    assert not any(flow_allowed(m, p, pod(m, "elasticsearch"), 9200) for p in openemr)


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
    crds = yaml.safe_load((tree / "crds" / "kustomization.yaml").read_text())["resources"]
    assert "https://download.elastic.co/downloads/eck/3.5.0/crds.yaml" in crds
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


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    """The same overlays with the default backend, rendered from the same working tree."""
    out = tmp_path_factory.mktemp("loki") / "dist"
    result = run_main("--dist", str(out), *[arg for name in RENDERED for arg in ("--overlay", name)])
    assert result.returncode == 0, result.stderr
    return out


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
               "PrometheusRule/monitoring/logs-traces-metrics"}
    # Dashboards keep their panels on other datasources; the events shipper's alert goes with it (Loki only).
    allowed |= {key for key in changed if uses_loki(before[key])}
    if backend == "elasticsearch":
        allowed.add("PrometheusRule/monitoring/stack")
    assert changed <= allowed, sorted(changed - allowed)
    assert "PrometheusRule/monitoring/elasticsearch" in added


def test_the_default_overlays_render_no_elasticsearch(objects):
    kinds = {o["kind"] for o in objects}
    assert not kinds & {"Elasticsearch", "Kibana", "Job"}
    assert not (DIST / "clinic" / "operators" / "eck-operator.yaml").exists()
    assert "eck" not in (DIST / "crds" / "kustomization.yaml").read_text()


def test_an_overlay_that_does_not_fit_is_refused_naming_the_budget_keys(tmp_path):
    result = run_main("--dist", str(tmp_path / "dist"), "--overlay", "large", env=clean_env(LOGS_BACKEND="both"))
    assert result.returncode != 0
    assert "budget.cpu=4" in result.stderr and "budget.memory=16Gi" in result.stderr and "logs.budget" in result.stderr


@pytest.mark.parametrize("patch, expected", [
    ("logs: {backend: opensearch}", "logs.backend"),
    ("elasticsearch: {nodes: 1, index_replicas: 1}", "index_replicas=1 must be <= nodes - 1"),
    ("elasticsearch: {resources: {cpu_request: 100m, memory_request: 512Mi, cpu_limit: '1', memory_limit: 1Gi}}",
     "memory_request=512Mi must equal memory_limit"),
    ("logs: {backend: elasticsearch}\nfluent_bit: {sidecar: {enabled: true}}", "fluent_bit.sidecar.enabled=false"),
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
