"""What the ELK variants index and search: the 15 saved searches (Lucene, parsed with luqum) against the
index template's mapping, their import, the parsers on real OpenEMR line shapes, and Fluent Bit's
Elasticsearch output (TLS verified, its own user, disk buffer)."""
from __future__ import annotations

import json
import re

import pytest
from conftest import DIST
from elasticsearch_variants import baseline, bodies, flatten, fluent_bit, ndjson, objects_of, one, plan, variant, walk  # noqa: F401
from luqum.parser import parser as lucene
from luqum.tree import SearchField
from stackgen.components.elk import es_shipping
from stackgen.components.elk.elasticsearch_setup import MAPPING
from stackgen.validate import load_tree


def test_the_15_saved_searches_parse_and_use_only_indexed_fields(variant):
    _, tree = variant
    check_saved_searches(objects_of(tree, "clinic"))


def test_the_committed_saved_searches_parse_and_use_only_indexed_fields():
    """What Flux applies: dist/hospital-elk's NDJSON, against the index template the same overlay's Job PUTs."""
    check_saved_searches(load_tree(DIST / "hospital-elk"))


def check_saved_searches(objects):
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


def test_the_auth_failures_search_matches_a_refused_login_and_not_a_logout():
    """`path` is a keyword holding the query string: the search's quoted path is one term, matched whole."""
    from logql_shippers import FIXTURES
    from stackgen.components.elk.saved_searches import SEARCHES
    redirects = {python_regex(es_shipping.APACHE_ACCESS).search(line).group("path")
                 for line in (FIXTURES / "access.log").read_text().splitlines() if "\"GET /interface/login_screen" in line}
    assert redirects == {"/interface/login_screen.php?error=1&site=", "/interface/login_screen.php?error=1&site=default"}
    [search] = [s for s in SEARCHES if s.id == "openemr-auth-failures"]
    paths = {node.expr.value.strip('"') for node in walk(lucene.parse(search.query.format(app="openemr")))
             if isinstance(node, SearchField) and node.name == "path"}
    assert paths & redirects == {"/interface/login_screen.php?error=1&site="}


def test_an_access_line_is_not_read_as_an_error_and_back():
    assert not python_regex(es_shipping.APACHE_ERROR).search(APACHE_ACCESS)
    assert not python_regex(es_shipping.APACHE_ACCESS).search(APACHE_ERROR)



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


@pytest.fixture(scope="module")
def large_elasticsearch(tmp_path_factory):
    """large runs the OpenEMR sidecar: its file lines reach Elasticsearch through the node agents."""
    from conftest import clean_env, run_main
    out = tmp_path_factory.mktemp("large-es") / "dist"
    result = run_main("--dist", str(out), "--overlay", "large", env=clean_env(LOGS_BACKEND="elasticsearch"))
    assert result.returncode == 0, result.stderr
    return out


def sidecar(tree):
    import yaml
    files = {p.name: list(yaml.safe_load_all(p.read_text())) for p in (tree / "large" / "openemr-sidecar").glob("*.yaml")}
    config_map = next(o for o in files["fluent-bit-sidecar.yaml"] if o and o["kind"] == "ConfigMap")
    return yaml.safe_load(config_map["data"]["fluent-bit.yaml"]), [o for o in files.get("network-policy.yaml", []) if o]


def test_the_sidecars_file_lines_are_forwarded_parsed_and_shipped(large_elasticsearch):
    from stackgen.validate import validate_tree
    assert validate_tree(large_elasticsearch) == []
    config, policies = sidecar(large_elasticsearch)
    outputs = {o["name"]: o for o in config["pipeline"]["outputs"]}
    assert set(outputs) == {"forward"}  # no Loki in this overlay, and no Elasticsearch credential in OpenEMR's namespace
    forward = outputs["forward"]
    assert forward["host"] == "fluent-bit-forward.monitoring-agents.svc.cluster.local" and forward["require_ack_response"] is True
    added = {f["add"].split()[0]: f["add"].split()[1] for f in config["pipeline"]["filters"] if f["name"] == "modify"}
    assert added == {"k8s_namespace": "openemr", "k8s_pod": "${POD_NAME}", "k8s_container": "openemr"}
    node = fluent_bit(objects_of(large_elasticsearch, "large"))
    listener = next(i for i in node["pipeline"]["inputs"] if i["name"] == "forward")
    assert listener["port"] == forward["port"] and listener["storage.type"] == "filesystem"
    tags = {i["tag"] for i in config["pipeline"]["inputs"]}
    parsed = {(f["match"], f["key_name"], f["parser"]) for f in node["pipeline"]["filters"] if f["name"] == "parser"}
    for tag in ("openemr.access", "openemr.error", "openemr.php_errors"):
        assert tag in tags and any(m == tag for m, _, _ in parsed), tag
    es = next(o for o in node["pipeline"]["outputs"] if o["name"] == "es")
    assert all(re.match(es["match_regex"], tag) for tag in ("openemr.access", "kube.var.log.containers.x"))
    (egress,) = policies
    ports = {p["port"] for rule in egress["spec"]["egress"] for p in rule.get("ports", [])}
    assert 24224 in ports and 3100 not in ports


def test_only_openemr_may_forward_to_the_node_agents(large_elasticsearch):
    from stackgen.flows import flow_allowed
    from stackgen.manifests import Manifests, Pod
    m = Manifests(objects_of(large_elasticsearch, "large"))
    agent = next(p for p in m.pods() if p.labels.get("app.kubernetes.io/name") == "fluent-bit")
    openemr = Pod("openemr", "openemr", {"app": "openemr"}, {})
    other = Pod("shop", "shop", {"app": "shop"}, {})
    assert flow_allowed(m, openemr, agent, 24224) and not flow_allowed(m, other, agent, 24224)
    es = next(p for p in m.pods() if p.labels.get("app.kubernetes.io/name") == "elasticsearch")
    assert not flow_allowed(m, openemr, es, 9200)
