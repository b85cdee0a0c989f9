"""What the programs do with the rendered values: address forms, probes, Fluent Bit's records.

Schema checks and key trees pass values that the program then refuses or misreads (Tempo's querier
exited on a `dns:///` frontend address). These tests hold each value to the form its parser takes,
each probe to what upstream recommends, and Fluent Bit's pipeline to the records it will produce.
"""
from __future__ import annotations

import copy
import re

import pytest
import yaml
from conftest import DIST
from stackgen.checks.fluent_bit import config_problems
from stackgen.checks.forms import address_problems, check_address_forms, leaves, recorded_forms
from stackgen.checks.security import check_pod_security
from stackgen.forms import ADDRESS_KEY
from stackgen.manifests import Manifests
from stackgen.validate import load_tree

BACKENDS = ("loki", "tempo", "mimir")


def config_map(objects, name):
    return next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == name)


def parsed(objects, name, key):
    return yaml.safe_load(config_map(objects, name)["data"][key])


def sidecar_config_map():
    path = DIST / "large" / "openemr-sidecar" / "fluent-bit-sidecar.yaml"
    return next(d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] == "ConfigMap")


# --- address forms --------------------------------------------------------------------------------

def test_every_address_like_value_has_its_recorded_form(manifests):
    assert check_address_forms(manifests) == []
    sidecar = sidecar_config_map()
    assert address_problems(sidecar, recorded_forms()["openemr-fluent-bit"]) == []


def test_every_backend_config_has_address_like_keys_and_all_are_recorded(objects):
    for backend in BACKENDS:
        paths = [p for p, _ in leaves(parsed(objects, f"{backend}-config", "config.yaml"))
                 if ADDRESS_KEY.search(p.removesuffix("[]").rsplit(".", 1)[-1])]
        assert "memberlist.join_members[]" in paths
        assert set(paths) <= set(recorded_forms()[backend])


@pytest.mark.parametrize("overlay_name", ["hospital", "large"])
def test_tempo_querier_dials_the_frontends_as_host_port(overlay_name):
    objects = load_tree(DIST / overlay_name)
    address = parsed(objects, "tempo-config", "config.yaml")["querier"]["frontend_worker"]["frontend_address"]
    host, port = address.rsplit(":", 1)
    assert "://" not in address and port == "9095"
    # The name is the headless discovery Service: one A record per frontend, not-ready ones included.
    service = next(o for o in objects if o["kind"] == "Service"
                   and f"{o['metadata']['name']}.{o['metadata']['namespace']}.svc.cluster.local" == host)
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"] is True
    assert 9095 in {p["port"] for p in service["spec"]["ports"]}


@pytest.mark.parametrize("path, bad, form", [
    ("querier.frontend_worker.frontend_address", "dns:///tempo-query-frontend-discovery.monitoring.svc.cluster.local:9095", "host:port"),
    ("querier.frontend_worker.frontend_address", "tempo-query-frontend-discovery.monitoring.svc.cluster.local", "host:port"),
    ("memberlist.join_members", ["tempo-memberlist.monitoring.svc.cluster.local"], "dns+host:port"),
    ("storage.trace.s3.endpoint", "https://s3.us-east-1.amazonaws.com", "no scheme"),
    ("metrics_generator.storage.remote_write", [{"url": "mimir-distributor:8080/api/v1/push"}], "http(s)://"),
    ("distributor.receivers.otlp.protocols.grpc.endpoint", "localhost:4317", "0.0.0.0:port"),
])
def test_a_value_in_the_wrong_form_is_refused_naming_the_key(path, bad, form):
    objects = load_tree(DIST / "hospital")
    broken = copy.deepcopy(config_map(objects, "tempo-config"))
    config = yaml.safe_load(broken["data"]["config.yaml"])
    *parents, leaf = path.split(".")
    node = config
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = bad
    broken["data"]["config.yaml"] = yaml.safe_dump(config)
    [problem] = address_problems(broken, recorded_forms()["tempo"])
    assert path in problem and form in problem


def test_an_address_like_key_without_a_recorded_form_is_refused():
    objects = load_tree(DIST / "hospital")
    broken = copy.deepcopy(config_map(objects, "loki-config"))
    config = yaml.safe_load(broken["data"]["config.yaml"])
    config["frontend"] = {"scheduler_address": "loki-backend.monitoring.svc.cluster.local:9095"}
    broken["data"]["config.yaml"] = yaml.safe_dump(config)
    [problem] = address_problems(broken, recorded_forms()["loki"])
    assert "frontend.scheduler_address" in problem and "no form recorded" in problem


# --- probes ---------------------------------------------------------------------------------------

def backend_containers(objects):
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet") and obj["metadata"]["labels"]["app.kubernetes.io/name"].startswith(BACKENDS):
            for container in obj["spec"]["template"]["spec"]["containers"]:
                yield obj["metadata"]["name"], container


def test_backends_are_ready_on_ready_and_never_restarted_by_it(objects):
    roles = dict(backend_containers(objects))
    assert len(roles) >= 3
    for role, container in roles.items():
        assert container["readinessProbe"]["httpGet"]["path"] == "/ready", role
        # Upstream renders no liveness probe for these (Loki chart, mimir-distributed, Tempo jsonnet).
        assert "livenessProbe" not in container, role


def test_every_container_has_a_readiness_probe(objects):
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            for container in obj["spec"]["template"]["spec"]["containers"]:
                assert "readinessProbe" in container, (obj["metadata"]["name"], container["name"])


def test_a_liveness_probe_on_ready_is_refused():
    objects = copy.deepcopy(load_tree(DIST / "hospital"))
    _, container = next(backend_containers(objects))
    container["livenessProbe"] = copy.deepcopy(container["readinessProbe"])
    assert any("liveness probe that does not wait for peers" in p for p in check_pod_security(Manifests(objects)))


def test_fluent_bit_liveness_is_the_process_and_readiness_its_output_health(objects):
    daemon = next(o for o in objects if o["kind"] == "DaemonSet" and o["metadata"]["name"] == "fluent-bit")
    [container] = daemon["spec"]["template"]["spec"]["containers"]
    # During a Loki outage /api/v1/health turns unhealthy while the disk buffer holds: never a restart.
    assert container["livenessProbe"]["httpGet"]["path"] == "/"
    assert container["readinessProbe"]["httpGet"]["path"] == "/api/v1/health"


# --- Fluent Bit: records as the pipeline builds them ------------------------------------------------

def onigmo(pattern: str) -> re.Pattern:
    """Fluent Bit's regexes are Onigmo; named groups are the only syntax Python spells differently."""
    return re.compile(pattern.strip("/").replace("(?<", "(?P<").replace("(?P<=", "(?<=").replace("(?P<!", "(?<!"))


def node_config(objects):
    return parsed(objects, "fluent-bit-config", "fluent-bit.yaml")


def resolve(accessor: str, record: dict):
    """Fluent Bit's record accessor ($key, $key['sub']['sub']): None when any part is missing."""
    if not accessor.startswith("$"):
        return accessor
    head, *rest = re.findall(r"^\$([\w.-]+)|\['([^']+)'\]", accessor)
    node = record.get(head[0])
    for _, key in rest:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def loki_labels(output: dict, record: dict) -> dict:
    """The loki output drops a label whose accessor finds nothing."""
    pairs = dict(pair.strip().split("=", 1) for pair in output["labels"].split(","))
    return {key: value for key, accessor in pairs.items() if (value := resolve(accessor, record)) is not None}


def through_filters(config: dict, record: dict, api_answers: bool) -> dict:
    """The tail record through the rendered parser and kubernetes filters."""
    parsers = {p["name"]: p for p in config.get("parsers", [])}
    for step in config["pipeline"]["filters"]:
        if step["name"] == "parser" and step["key_name"] in record:  # without the key, the record passes as is
            match = onigmo(parsers[step["parser"]]["regex"]).match(record[step["key_name"]])
            if match:
                if step["preserve_key"] == "off":
                    record = {k: v for k, v in record.items() if k != step["key_name"]}
                record = {**record, **match.groupdict()}
        elif step["name"] == "kubernetes" and api_answers:
            record = {**record, "kubernetes": {"namespace_name": "openemr", "pod_name": "openemr-7d9f-abcde",
                                               "container_name": "openemr", "labels": {"app": "openemr"}}}
    return record


LOG_FILE = "/var/log/containers/openemr-7d9f-abcde_openemr_openemr-" + "a" * 64 + ".log"


@pytest.mark.parametrize("api_answers", [True, False], ids=["api-up", "api-unreachable-or-pod-gone"])
def test_records_keep_namespace_pod_and_container_without_the_api(objects, api_answers):
    config = node_config(objects)
    [source] = [i for i in config["pipeline"]["inputs"] if i["name"] == "tail"]
    record = through_filters(config, {"log": "x", source["path_key"]: LOG_FILE}, api_answers)
    [output] = [o for o in config["pipeline"]["outputs"] if o["name"] == "loki"]
    labels = loki_labels(output, record)
    assert {k: labels[k] for k in ("namespace", "pod", "container")} == \
        {"namespace": "openemr", "pod": "openemr-7d9f-abcde", "container": "openemr"}
    assert ("app" in labels) is api_answers


def test_no_parser_setting_without_a_loaded_parser(objects):
    config = node_config(objects)
    kubernetes = next(f for f in config["pipeline"]["filters"] if f["name"] == "kubernetes")
    # The image's parsers.conf is not loaded (--config replaces the file that loads it): no annotations.
    assert kubernetes["k8s-logging.parser"] == "off" and "parsers_file" not in config["service"]
    assert config_problems(config) == []
    broken = copy.deepcopy(config)
    broken["pipeline"]["filters"][1]["parser"] = "apache"
    assert any("parser 'apache' is not defined" in p for p in config_problems(broken))


def test_every_fluent_bit_key_exists_at_the_pinned_version(objects):
    for config in (node_config(objects), yaml.safe_load(sidecar_config_map()["data"]["fluent-bit.yaml"])):
        assert config_problems(config) == []
    broken = copy.deepcopy(node_config(objects))
    broken["service"]["storage.max_chunks"] = 128  # a typo Fluent Bit itself ignores silently
    kubernetes = next(f for f in broken["pipeline"]["filters"] if f["name"] == "kubernetes")
    kubernetes["kube_meta_negative_cache_ttl"] = 60  # newer than 4.2.0
    problems = config_problems(broken)
    assert "service: unknown key 'storage.max_chunks'" in problems
    assert "filter kubernetes: unknown key 'kube_meta_negative_cache_ttl'" in problems


def join_lines(parser: dict, lines: list[str]) -> list[str]:
    """Fluent Bit's regex multiline state machine: a start_state line opens a record, `cont` lines join it."""
    rules = {(r["state"]): (onigmo(r["regex"]), r["next_state"]) for r in parser["rules"]}
    records: list[str] = []
    state = None
    for line in lines:
        if state and rules[state][0].match(line):
            records[-1] += "\n" + line
            state = rules[state][1]
        elif rules["start_state"][0].match(line):
            records.append(line)
            state = rules["start_state"][1]
        else:
            records.append(line)
            state = None
    return records


PHP_TRACE = [
    "[02-Dec-2026 00:54:31 UTC] PHP Fatal error:  Uncaught Exception: boom in /var/www/localhost/htdocs/openemr/library/sql.inc.php:42",
    "Stack trace:",
    "#0 /var/www/localhost/htdocs/openemr/interface/main/main.php(12): sqlQuery('SELECT')",
    "#1 {main}",
    "  thrown in /var/www/localhost/htdocs/openemr/library/sql.inc.php on line 42",
]
APACHE_ERROR = ["[Wed Dec 02 00:54:31.123456 2026] [php:error] [pid 123] [client 10.0.0.1:5000] PHP Fatal error:  boom",
                "Stack trace:", "#0 {main}"]
ACCESS = '10.0.0.1 - - [02/Dec/2026:00:54:32 +0000] "GET /interface/login/login.php HTTP/1.1" 200 5120'


def test_php_stack_traces_arrive_as_one_record_in_the_daemonset(objects):
    config = node_config(objects)
    [parser] = config["multiline_parsers"]
    step = next(f for f in config["pipeline"]["filters"] if f["name"] == "multiline")
    assert step is config["pipeline"]["filters"][0] and step["multiline.parser"] == parser["name"]
    assert step["multiline.key_content"] == "log"
    records = join_lines(parser, [*PHP_TRACE, ACCESS, *APACHE_ERROR, ACCESS])
    assert records == ["\n".join(PHP_TRACE), ACCESS, "\n".join(APACHE_ERROR), ACCESS]


def test_sidecar_joins_php_and_apache_errors_per_file():
    config = yaml.safe_load(sidecar_config_map()["data"]["fluent-bit.yaml"])
    parsers = {p["name"]: p for p in config["multiline_parsers"]}
    by_file = {source["path"].rsplit("/", 1)[1]: source for source in config["pipeline"]["inputs"]}
    assert "multiline.parser" not in by_file["access.log"]
    assert join_lines(parsers[by_file["php_errors.log"]["multiline.parser"]], PHP_TRACE * 2) == ["\n".join(PHP_TRACE)] * 2
    assert join_lines(parsers[by_file["error.log"]["multiline.parser"]], APACHE_ERROR * 2) == ["\n".join(APACHE_ERROR)] * 2
