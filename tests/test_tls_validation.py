"""What validate refuses about TLS, and the listener inventory: each check shown catching its defect on a
small synthetic stack (one server `api` with its Certificate, one client ConfigMap), then the inventory
over the real dist/."""
from __future__ import annotations

import copy
import functools

import pytest
import yaml
from conftest import DIST, OVERLAYS, ROOT
from stackgen import forms, plain_ports
from stackgen.checks import check_all
from stackgen.checks.listeners import inventory, listener_problems
from stackgen.checks.tls import check_tls_clients
from stackgen.checks.tls_names import check_certificate_names, covers
from stackgen.lib.tls import member_names, service_names
from stackgen.manifests import Manifests
from stackgen.plain_ports import PlainPort
from stackgen.validate import load_tree, overlay_directories

NS = "monitoring"
LABELS = {"app.kubernetes.io/name": "api"}


def _meta(name: str, **extra) -> dict:
    return {"name": name, "namespace": NS, **extra}


def _server(port_name="https", port=8443, args=(), volumes=(), mounts=()) -> list[dict]:
    """A Deployment `api` serving `port_name`, its Service and its Certificate (mounted as api-tls)."""
    container = {"name": "api", "image": "api:1", "args": list(args), "volumeMounts": list(mounts),
                 "ports": [{"name": port_name, "containerPort": port}]}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta("api", labels=LABELS), "spec": {
            "selector": {"matchLabels": LABELS}, "template": {"metadata": {"labels": LABELS}, "spec": {
                "containers": [container],
                "volumes": [{"name": "tls", "secret": {"secretName": "api-tls"}}, *volumes]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": _meta("api", labels=LABELS),
         "spec": {"selector": LABELS, "ports": [{"name": port_name, "port": port, "targetPort": port_name}]}},
        {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": _meta("api-tls"),
         "spec": {"secretName": "api-tls", "dnsNames": service_names("api", NS)}},
    ]


def _config_map(name: str, files: dict[str, object]) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(name),
            "data": {file: yaml.safe_dump(content) for file, content in files.items()}}


def _client(document: dict) -> dict:
    return _config_map("client", {"config.yaml": document})


def _tls_problems(objects: list[dict]) -> list[str]:
    m = Manifests(objects)
    return check_tls_clients(m) + check_certificate_names(m)


# --- the listener inventory -----------------------------------------------------------------------------

def test_a_plain_port_is_caught_until_declared_with_a_reason():
    objects = _server("metrics", 9100)
    [listener] = inventory(Manifests(objects))
    assert (listener.component, listener.port_name, listener.tls) == ("api", "metrics", False)
    assert listener.reached_by == {"Service/monitoring/api"}
    problems = listener_problems(Manifests(objects), exceptions=())
    assert len(problems) == 1 and "Deployment/monitoring/api: port metrics (9100/TCP) is plain" in problems[0]
    assert listener_problems(Manifests(objects), (PlainPort("api", "metrics", "serves no data"),)) == []
    unexplained = listener_problems(Manifests(objects), (PlainPort("api", "metrics", " "),))
    assert any("api port metrics: no reason given" in p for p in unexplained)
    assert any("port metrics (9100/TCP) is plain" in p for p in unexplained)


def test_tls_is_read_from_a_dskit_server_config_for_that_port_only():
    server = {"server": {"http_listen_port": 8443, "grpc_listen_port": 9095,
                         "http_tls_config": {"cert_file": "/etc/tls/tls.crt", "key_file": "/etc/tls/tls.key"}}}
    volume = {"name": "config", "configMap": {"name": "api-config"}}
    objects = _server(volumes=[volume]) + [_config_map("api-config", {"config.yaml": server})]
    assert [entry.tls for entry in inventory(Manifests(objects))] == [True]
    assert listener_problems(Manifests(objects), exceptions=()) == []
    del server["server"]["http_tls_config"]
    objects[-1] = _config_map("api-config", {"config.yaml": server})
    assert [entry.tls for entry in inventory(Manifests(objects))] == [False]


def test_tls_is_read_from_an_exporter_web_config_file():
    volume = {"name": "web", "configMap": {"name": "api-web"}}
    mount = {"name": "web", "mountPath": "/etc/web", "readOnly": True}
    objects = _server(args=["--web.config.file=/etc/web/web.yaml"], volumes=[volume], mounts=[mount])
    with_tls = {"tls_server_config": {"cert_file": "/etc/tls/tls.crt", "key_file": "/etc/tls/tls.key"}}
    assert [e.tls for e in inventory(Manifests(objects + [_config_map("api-web", {"web.yaml": with_tls})]))] == [True]
    assert [e.tls for e in inventory(Manifests(objects + [_config_map("api-web", {"web.yaml": {}})]))] == [False]


def test_a_network_policy_port_and_the_host_network_count_as_reached():
    objects = _server("metrics", 9100)[:1]
    objects[0]["spec"]["template"]["spec"]["hostNetwork"] = True
    assert {e.port_name: e.reached_by for e in inventory(Manifests(objects))} == {"metrics": {"hostNetwork"}}
    objects[0]["spec"]["template"]["spec"]["hostNetwork"] = False
    policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": _meta("api"),
              "spec": {"podSelector": {"matchLabels": LABELS}, "ingress": [{"ports": [{"port": "metrics"}]}]}}
    assert {e.port_name: e.reached_by for e in inventory(Manifests(objects + [policy]))} == \
        {"metrics": {"NetworkPolicy/monitoring/api"}}


# --- plain URLs, clients without a CA or verification ---------------------------------------------------

def test_an_http_url_to_a_stack_service_is_refused_in_any_form():
    for url in ("http://api.monitoring.svc.cluster.local:8443/x", "http://api.monitoring.svc:8443",
                "http://api.monitoring:8443", "http://api:8443"):
        problems = _tls_problems(_server() + [_client({"remote": {"url": url}})])
        assert problems == [(f"ConfigMap/monitoring/client config.yaml: remote.url: {url.split('/x')[0]} is plain "
                            "HTTP to Service/monitoring/api; use https:// and the CA (or declare the port in "
                            "plain_ports.py with its reason)")], url
    env = _server()
    env[0]["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "PEER", "value": "http://api:8443"}]
    assert any("containers[].env[].value: http://api:8443 is plain HTTP" in p for p in _tls_problems(env))
    for allowed in ("https://api.monitoring.svc:8443", "http://example.org/x", "http://localhost:8443"):
        assert _tls_problems(_server() + [_client({"remote": {"url": allowed}})]) == [], allowed


def test_an_http_url_to_a_declared_plain_port_is_allowed(monkeypatch):
    objects = _server("metrics", 9100) + [_client({"remote": {"url": "http://api.monitoring.svc:9100"}})]
    assert _tls_problems(objects)
    monkeypatch.setattr(plain_ports, "PLAIN_PORTS", (PlainPort("api", "metrics", "no TLS in this program"),))
    assert _tls_problems(objects) == []


def _monitor(endpoint: dict) -> dict:
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": _meta("api"),
            "spec": {"selector": {"matchLabels": LABELS}, "endpoints": [{"port": "https", **endpoint}]}}


def test_tls_clients_without_a_ca_are_refused():
    ca = {"ca": {"secret": {"name": "api-tls", "key": "ca.crt"}}, "serverName": "api.monitoring.svc"}
    assert _tls_problems(_server() + [_monitor({"scheme": "https", "tlsConfig": ca})]) == []
    no_ca = {"serverName": "api.monitoring.svc"}
    assert _tls_problems(_server() + [_monitor({"scheme": "https", "tlsConfig": no_ca})]) == [
        ("ServiceMonitor/monitoring/api: spec.endpoints[0] (port https): TLS without a CA to verify the server; "
        "set tlsConfig.ca (the target's Secret, key ca.crt)")]
    no_name = {"ca": ca["ca"]}
    assert any("https to pod IPs without tlsConfig.serverName" in p
               for p in _tls_problems(_server() + [_monitor({"scheme": "https", "tlsConfig": no_name})]))
    grafana = {"datasources": [{"name": "API", "url": "https://api.monitoring.svc:8443", "jsonData": {}}]}
    assert any("datasources[API].url: TLS without a CA" in p and "tlsCACert" in p
               for p in _tls_problems(_server() + [_client(grafana)]))
    output = {"name": "http", "host": "api.monitoring.svc", "port": 8443, "tls": "on", "tls.verify_hostname": "on"}
    problems = _tls_problems(_server() + [_client({"pipeline": {"outputs": [output]}})])
    assert any("pipeline.outputs[0] (http): TLS without a CA to verify the server; set tls.ca_file" in p
               for p in problems)
    output |= {"tls.ca_file": "/etc/tls/ca.crt"}
    del output["tls.verify_hostname"]
    assert any("set tls.verify_hostname: on" in p
               for p in _tls_problems(_server() + [_client({"pipeline": {"outputs": [output]}})]))
    dskit = {"ingester_client": {"grpc_client_config": {"tls_enabled": True, "tls_server_name": "api.monitoring"}}}
    assert any("ingester_client.grpc_client_config.tls_enabled: TLS without a CA" in p
               for p in _tls_problems(_server() + [_client(dskit)]))


def test_prometheus_remote_write_and_alertmanager_endpoints_are_tls_clients_too():
    ca = {"secret": {"name": "api-tls", "key": "ca.crt"}}
    prometheus = {"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus", "metadata": _meta("main"),
                  "spec": {"remoteWrite": [{"url": "https://api.monitoring.svc:8443/api/v1/push"}],
                           "alerting": {"alertmanagers": [{"name": "api", "namespace": NS, "port": "https",
                                                           "scheme": "https", "tlsConfig": {"ca": ca}}]}}}
    problems = _tls_problems(_server() + [prometheus])
    assert "Prometheus/monitoring/main: spec.remoteWrite[0].url: TLS without a CA to verify the server; set " \
           "spec.remoteWrite[].tlsConfig.ca" in problems
    assert "Prometheus/monitoring/main: spec.alerting.alertmanagers[0]: https to pod IPs without " \
           "tlsConfig.serverName; set it to a name the target's Certificate carries" in problems
    prometheus["spec"]["remoteWrite"][0]["tlsConfig"] = {"ca": ca}
    prometheus["spec"]["alerting"]["alertmanagers"][0]["tlsConfig"]["serverName"] = "api.monitoring.svc"
    assert _tls_problems(_server() + [prometheus]) == []


def test_a_fluent_bit_output_to_a_stack_service_without_tls_is_refused():
    output = {"name": "loki", "host": "api.monitoring.svc.cluster.local", "port": 8443}
    assert any("pipeline.outputs[0] (loki): plain connection to Service/monitoring/api" in p
               for p in _tls_problems(_server() + [_client({"pipeline": {"outputs": [output]}})]))


@pytest.mark.parametrize("document", [
    {"tls_config": {"insecure_skip_verify": True}},
    {"memberlist": {"tls_enabled": True, "tls_ca_path": "/etc/tls/ca.crt", "tls_insecure_skip_verify": True}},
    {"datasources": [{"name": "API", "url": "https://api:8443", "jsonData": {"tlsSkipVerify": True}}]},
    {"pipeline": {"outputs": [{"name": "http", "host": "api", "port": 8443, "tls": "on", "tls.verify": "off"}]}},
])
def test_verification_turned_off_is_refused(document):
    assert any("certificate verification is off" in p for p in _tls_problems(_server() + [_client(document)]))


def test_insecure_skip_verify_on_a_custom_resource_is_refused():
    tls_config = {"insecureSkipVerify": True, "serverName": "api.monitoring.svc"}
    assert any("ServiceMonitor/monitoring/api: spec.endpoints[].tlsConfig.insecureSkipVerify: certificate "
               "verification is off" in p for p in _tls_problems(_server() + [_monitor({"tlsConfig": tls_config})]))


# --- the server's certificate covers the name its clients verify ----------------------------------------

def test_rfc_6125_wildcards_cover_one_left_most_label():
    assert covers("api.monitoring.svc", "API.monitoring.svc.")
    assert covers("*.api-headless.monitoring.svc", "api-0.api-headless.monitoring.svc")
    assert not covers("*.api-headless.monitoring.svc", "a.api-0.api-headless.monitoring.svc")
    assert not covers("*.api-headless.monitoring.svc", "api-headless.monitoring.svc")
    assert not covers("*.svc", "api.monitoring.svc")
    assert all(covers(name, "api-1.api-headless.monitoring.svc.cluster.local") is (name.endswith("local"))
               for name in member_names("api-headless", NS))


def test_a_certificate_not_covering_the_name_a_client_verifies_is_refused():
    ca = {"secret": {"name": "api-tls", "key": "ca.crt"}}
    wrong = {"ca": ca, "serverName": "api.logging.svc"}
    assert _tls_problems(_server() + [_monitor({"scheme": "https", "tlsConfig": wrong})]) == [
        ("ServiceMonitor/monitoring/api: spec.endpoints[0] (port https): verifies the name api.logging.svc, which "
        "Certificate/monitoring/api-tls (served by Deployment/monitoring/api) does not cover; add api.logging.svc "
        f"to its dnsNames or use one of {service_names('api', NS)}")]
    objects = _server()
    objects[2]["spec"]["dnsNames"] = ["api"]
    grafana = {"datasources": [{"name": "API", "url": "https://api.monitoring.svc:8443", "jsonData": {
        "tlsAuthWithCACert": True}, "secureJsonData": {"tlsCACert": "$__file{/etc/tls/ca.crt}"}}]}
    assert any("verifies the name api.monitoring.svc" in p for p in _tls_problems(objects + [_client(grafana)]))
    output = {"name": "http", "host": "api", "port": 8443, "tls": "on", "tls.verify_hostname": "on",
              "tls.ca_file": "/etc/tls/ca.crt", "tls.vhost": "api.monitoring.svc"}
    assert any("verifies the name api.monitoring.svc" in p
               for p in _tls_problems(objects + [_client({"pipeline": {"outputs": [output]}})]))
    del output["tls.vhost"]
    assert _tls_problems(objects + [_client({"pipeline": {"outputs": [output]}})]) == []


def test_validate_runs_the_tls_checks():
    broken = _server("metrics", 9100) + [_client({"remote": {"url": "http://api:9100"}})]
    problems = check_all(copy.deepcopy(broken))
    assert any("http://api:9100 is plain HTTP" in p for p in problems)
    assert any("port metrics (9100/TCP) is plain" in p for p in problems)


# --- the address forms know https -----------------------------------------------------------------------

def test_https_forms_refuse_plain_http():
    assert forms.HTTP_URL.problem("https://api.monitoring.svc:8443/x") is None
    assert forms.HTTPS_URL.problem("https://api.monitoring.svc:8443/x") is None
    assert "https://" in forms.HTTPS_URL.problem("http://api.monitoring.svc:8443/x")
    assert forms.HTTPS_BASE_URL.problem("https://api.monitoring.svc:8443") is None
    assert forms.HTTPS_BASE_URL.problem("https://api.monitoring.svc:8443/x") is not None


# --- the real dist/ -------------------------------------------------------------------------------------

@functools.cache
def _dist_inventories() -> dict[str, Manifests]:
    return {d.name: Manifests(load_tree(d, with_platform=True)) for d in overlay_directories(DIST)}


def test_the_inventory_reads_tls_from_what_dist_renders():
    """ECK serves HTTPS and transport TLS; metrics-server's secure port is TLS; Fluent Bit's HTTP server is not."""
    entries = {(e.component, e.port_name): e for e in inventory(_dist_inventories()["hospital-elk"])}
    assert {key: entries[key].tls for key in [("elasticsearch", "https"), ("elasticsearch", "transport"),
                                              ("kibana", "https"), ("metrics-server", "https"), ("fluent-bit", "http")]} \
        == {("elasticsearch", "https"): True, ("elasticsearch", "transport"): True, ("kibana", "https"): True,
            ("metrics-server", "https"): True, ("fluent-bit", "http"): False}
    assert entries[("node-exporter", "metrics")].reached_by >= {"hostNetwork", "ServiceMonitor/monitoring-agents/node-exporter"}


def test_no_plain_listener_in_dist_but_the_declared_ones():
    """Over the real dist/, with only the README's exceptions: fails listing every plain port found."""
    problems = [f"{overlay}: {p}" for overlay, m in _dist_inventories().items()
                for p in listener_problems(m, plain_ports.PLAIN_PORTS)]
    assert problems == [], "\n".join(problems)


def test_every_declared_plain_port_exists_and_the_readme_lists_it():
    found = {(e.component, e.port_name) for m in _dist_inventories().values() for e in inventory(m)}
    declared = plain_ports.PLAIN_PORTS
    assert [p for p in declared if (p.component, p.port) not in found] == []
    assert plain_ports.exception_problems() == []
    assert plain_ports.markdown() in (ROOT / "README.md").read_text()


def test_the_overlays_are_all_inventoried():
    assert sorted(_dist_inventories()) == sorted(OVERLAYS)
