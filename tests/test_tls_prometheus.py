"""Encryption in transit for Prometheus, Alertmanager, the exporters and the operator (issue 23).

The rendered output: every endpoint of theirs that Prometheus scrapes, Prometheus' alerts and its remote
write are https, verified with a CA and for a name the target's Certificate covers; the servers serve
their own certificate and kubelet probes them over HTTPS.

The real binaries (Debian's prometheus 2.42, prometheus-alertmanager 0.25, prometheus-node-exporter 1.5,
promtool) on 127.0.0.1 with throwaway certificates shaped like the rendered Certificates, configured with
the rendered TLS settings: the exporters' web config files as rendered (paths moved to the test's
directories), and for the operator-run Prometheus and Alertmanager the files the operator v0.93.0
generates from the CRs' values (tls_local.operator_web_config, which follows its code key by key).
"""
from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
import yaml
import tls_local as t
from conftest import DIST
from stackgen.lib.tls import MOUNT_PATH, WEB_CONFIG_FILE
from stackgen.validate import load_tree

PROMETHEUS, PROMTOOL = shutil.which("prometheus"), shutil.which("promtool")
ALERTMANAGER = shutil.which("alertmanager") or shutil.which("prometheus-alertmanager")
NODE_EXPORTER = shutil.which("node_exporter") or shutil.which("prometheus-node-exporter")
CI = "(CI installs prometheus, prometheus-alertmanager and prometheus-node-exporter)"
needs = {name: pytest.mark.skipif(path is None, reason=f"{name} not on PATH {CI}") for name, path in (
    ("prometheus", PROMETHEUS), ("promtool", PROMTOOL), ("alertmanager", ALERTMANAGER), ("node-exporter", NODE_EXPORTER))}

OWNED = ("prometheus", "alertmanager", "kube-state-metrics", "node-exporter", "prometheus-operator")
EXPORTERS = ("kube-state-metrics", "node-exporter")


# --- reading the rendered objects --------------------------------------------------------------------

def _named(objects: list[dict], kind: str, name: str) -> dict:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def certificate_of_secret(objects: list[dict], namespace: str, secret: str) -> dict:
    return next(o["spec"] for o in objects if o["kind"] == "Certificate" and o["metadata"]["namespace"] == namespace
                and o["spec"]["secretName"] == secret)


def selected_service(objects: list[dict], monitor: dict) -> dict:
    labels = monitor["spec"]["selector"]["matchLabels"]
    return next(o for o in objects if o["kind"] == "Service" and o["metadata"]["namespace"] == monitor["metadata"]["namespace"]
                and labels.items() <= o["metadata"]["labels"].items())


def pod_spec(objects: list[dict], name: str) -> dict:
    return next(o for o in objects if o["kind"] in ("Deployment", "DaemonSet") and o["metadata"]["name"] == name)[
        "spec"]["template"]["spec"]


def mounted_secret(pod: dict, path: str) -> str:
    """The Secret mounted at `path` in the pod's (only) container."""
    (container,) = pod["containers"]
    volume = next(m["name"] for m in container["volumeMounts"] if m["mountPath"] == path)
    return next(v["secret"]["secretName"] for v in pod["volumes"] if v["name"] == volume)


def _svc_name(service: dict) -> str:
    return f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc"


# --- rendered output --------------------------------------------------------------------------------

def test_every_scrape_of_the_stacks_own_targets_is_https_verified_for_a_name_its_certificate_covers(objects):
    for name in OWNED:
        monitor = _named(objects, "ServiceMonitor", name)
        namespace = monitor["metadata"]["namespace"]
        service = selected_service(objects, monitor)
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint["scheme"] == "https", (name, endpoint)
            tls = endpoint["tlsConfig"]
            assert set(tls) == {"ca", "serverName"}, (name, tls)  # no insecureSkipVerify, no file paths
            assert tls["ca"]["secret"]["key"] == "ca.crt"
            certificate = certificate_of_secret(objects, namespace, tls["ca"]["secret"]["name"])
            assert tls["serverName"] in certificate["dnsNames"] and _svc_name(service) in certificate["dnsNames"]


def test_prometheus_alerts_alertmanager_over_https_verified_for_a_name_its_certificate_covers(objects):
    prometheus, alertmanager = _named(objects, "Prometheus", "main"), _named(objects, "Alertmanager", "main")
    namespace = prometheus["metadata"]["namespace"]
    own = prometheus["spec"]["web"]["tlsConfig"]["cert"]["secret"]["name"]
    am_certificate = certificate_of_secret(objects, namespace, alertmanager["spec"]["web"]["tlsConfig"]["cert"]["secret"]["name"])
    for target in prometheus["spec"]["alerting"]["alertmanagers"]:
        assert target["scheme"] == "https"
        assert target["tlsConfig"]["ca"] == {"secret": {"name": own, "key": "ca.crt"}}
        assert target["tlsConfig"]["serverName"] in am_certificate["dnsNames"]
        assert f"{target['name']}.{target['namespace']}.svc" in am_certificate["dnsNames"]


def test_remote_write_is_https_verified_for_the_host_its_url_names(objects):
    prometheus = _named(objects, "Prometheus", "main")
    own = prometheus["spec"]["web"]["tlsConfig"]["cert"]["secret"]["name"]
    for remote in prometheus["spec"]["remoteWrite"]:
        host = remote["url"].removeprefix("https://").split(":")[0].split("/")[0]
        assert remote["url"].startswith("https://") and remote["tlsConfig"] == {
            "ca": {"secret": {"name": own, "key": "ca.crt"}}, "serverName": host}


def test_mimirs_certificate_covers_the_remote_write_host(objects):
    prometheus = _named(objects, "Prometheus", "main")
    host = prometheus["spec"]["remoteWrite"][0]["tlsConfig"]["serverName"]
    covering = [o for o in objects if o["kind"] == "Certificate" and o["metadata"]["name"].startswith("mimir")]
    if not covering:
        pytest.skip("Mimir's server certificate is rendered by the Loki/Tempo/Mimir TLS work (tls-rings)")
    assert any(host in c["spec"]["dnsNames"] for c in covering)


def test_prometheus_and_alertmanager_serve_their_own_certificate_and_gossip_over_mutual_tls(objects):
    for kind, governing in (("Prometheus", "prometheus-operated"), ("Alertmanager", "alertmanager-operated")):
        resource = _named(objects, kind, "main")
        namespace, web = resource["metadata"]["namespace"], resource["spec"]["web"]["tlsConfig"]
        secret = web["cert"]["secret"]["name"]
        assert web == {"cert": {"secret": {"name": secret, "key": "tls.crt"}},
                       "keySecret": {"name": secret, "key": "tls.key"}, "minVersion": "TLS12"}
        assert f"{governing}.{namespace}.svc" in certificate_of_secret(objects, namespace, secret)["dnsNames"]
    alertmanager = _named(objects, "Alertmanager", "main")
    cluster, secret = alertmanager["spec"]["clusterTLS"], alertmanager["spec"]["web"]["tlsConfig"]["cert"]["secret"]["name"]
    own_ca = {"secret": {"name": secret, "key": "ca.crt"}}
    assert cluster["server"]["clientAuthType"] == "RequireAndVerifyClientCert" and cluster["server"]["client_ca"] == own_ca
    assert cluster["client"]["ca"] == own_ca and cluster["client"]["cert"]["secret"]["name"] == secret
    certificate = certificate_of_secret(objects, alertmanager["metadata"]["namespace"], secret)
    assert cluster["client"]["serverName"] in certificate["dnsNames"] and "client auth" in certificate["usages"]


@pytest.mark.parametrize("name", [*EXPORTERS, "prometheus-operator"])
def test_exporters_and_the_operator_serve_their_own_certificate_probed_over_https(objects, name):
    pod = pod_spec(objects, name)
    (container,) = pod["containers"]
    secret = mounted_secret(pod, MOUNT_PATH)
    service = next(o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == name)
    assert _svc_name(service) in certificate_of_secret(objects, service["metadata"]["namespace"], secret)["dnsNames"]
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    assert container["livenessProbe"]["httpGet"]["scheme"] == "HTTPS"
    if name in EXPORTERS:
        flag = "--tls-config" if name == "kube-state-metrics" else "--web.config.file"
        assert f"{flag}={WEB_CONFIG_FILE}" in container["args"]
        served = exporter_web_config(objects, name)["tls_server_config"]
        assert {served["cert_file"], served["key_file"]} == {f"{MOUNT_PATH}/tls.crt", f"{MOUNT_PATH}/tls.key"}
        assert served["min_version"] in ("TLS12", "TLS13")
    else:
        assert {"--web.enable-tls=true", f"--web.cert-file={MOUNT_PATH}/tls.crt",
                f"--web.key-file={MOUNT_PATH}/tls.key"} <= set(container["args"])


def exporter_web_config(objects: list[dict], name: str) -> dict:
    """The web config file the exporter reads: the ConfigMap mounted where its flag points."""
    pod = pod_spec(objects, name)
    (container,) = pod["containers"]
    directory, file = WEB_CONFIG_FILE.rsplit("/", 1)
    volume = next(m["name"] for m in container["volumeMounts"] if m["mountPath"] == directory)
    config_map = next(v["configMap"]["name"] for v in pod["volumes"] if v["name"] == volume)
    return yaml.safe_load(_named(objects, "ConfigMap", config_map)["data"][file])


# --- the real binaries ------------------------------------------------------------------------------

class Site:
    """The hospital overlay's rendered objects, its certificates issued by a throwaway CA into Secret-like
    directories, and the rendered web configs translated to them."""

    def __init__(self, directory: Path):
        self.objects = load_tree(DIST / "hospital")
        self.dir, self.secrets = directory, directory / "secrets"
        self.ca, self.other_ca = t.Authority("monitoring-ca (test)"), t.Authority("another CA")
        for o in self.objects:
            if o["kind"] == "Certificate" and not o["spec"].get("isCA"):
                self.ca.issue(o["spec"], self.secrets / o["spec"]["secretName"])
        (directory / "other-ca.crt").write_bytes(self.other_ca.pem)

    def resource(self, kind: str) -> dict:
        return _named(self.objects, kind, "main")

    def write(self, name: str, config: dict) -> Path:
        path = self.dir / name
        path.write_text(yaml.safe_dump(config))
        return path

    def web_config(self, name: str) -> Path:
        """`name`'s web config: the exporters' as rendered, the CRs' as the operator writes it."""
        if name in EXPORTERS:
            secret = mounted_secret(pod_spec(self.objects, name), MOUNT_PATH)
            text = yaml.safe_dump(exporter_web_config(self.objects, name)).replace(MOUNT_PATH, str(self.secrets / secret))
            return self.write(f"{name}-web.yml", yaml.safe_load(text))
        kind = {"prometheus": "Prometheus", "alertmanager": "Alertmanager"}[name]
        return self.write(f"{name}-web.yml", t.operator_web_config(self.resource(kind)["spec"]["web"]["tlsConfig"], self.secrets))

    def client(self, monitor: str) -> tuple[str, Path]:
        """(server name, CA file) of the rendered ServiceMonitor's first endpoint."""
        tls = t.prometheus_client_tls(_named(self.objects, "ServiceMonitor", monitor)["spec"]["endpoints"][0], self.secrets)
        return tls["tls_config"]["server_name"], Path(tls["tls_config"]["ca_file"])


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Site:
    return Site(tmp_path_factory.mktemp("tls"))


@needs["promtool"]
def test_promtool_accepts_each_rendered_web_config(site):
    for name in ("prometheus", "alertmanager", *EXPORTERS):
        result = subprocess.run([PROMTOOL, "check", "web-config", str(site.web_config(name))], capture_output=True, text=True)
        assert result.returncode == 0, (name, result.stdout, result.stderr)
    # and it does check: a key that is not the certificate's is refused
    broken = yaml.safe_load(site.web_config("node-exporter").read_text())
    broken["tls_server_config"]["key_file"] = str(site.secrets / "prometheus-tls" / "tls.key")
    result = subprocess.run([PROMTOOL, "check", "web-config", str(site.write("broken-web.yml", broken))],
                            capture_output=True, text=True)
    assert result.returncode != 0


def prometheus_config(site: Site, ports: dict[str, int]) -> dict:
    """Scrapes of node-exporter, Prometheus and Alertmanager and alerting, each with the rendered scheme,
    CA and server name; plus node-exporter verified with another CA (must fail)."""
    jobs = [{"job_name": name, "static_configs": [{"targets": [f"127.0.0.1:{ports[name]}"]}],
             **t.prometheus_client_tls(_named(site.objects, "ServiceMonitor", name)["spec"]["endpoints"][0], site.secrets)}
            for name in ("node-exporter", "prometheus", "alertmanager")]
    wrong = {**jobs[0], "job_name": "node-exporter-other-ca"}
    wrong["tls_config"] = {**wrong["tls_config"], "ca_file": str(site.dir / "other-ca.crt")}
    (alerting,) = site.resource("Prometheus")["spec"]["alerting"]["alertmanagers"]
    rules = site.write("rules.yml", {"groups": [{"name": "tls", "rules": [
        {"alert": "DeliveredOverTls", "expr": "vector(1)", "labels": {"severity": "warning"}}]}]})
    return {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "rule_files": [str(rules)],
            "scrape_configs": [*jobs, wrong],
            "alerting": {"alertmanagers": [{"api_version": "v2", **t.prometheus_client_tls(alerting, site.secrets),
                                            "static_configs": [{"targets": [f"127.0.0.1:{ports['alertmanager']}"]}]}]}}


@pytest.fixture(scope="module")
def running(site):
    if None in (PROMETHEUS, ALERTMANAGER, NODE_EXPORTER):
        pytest.skip(f"prometheus, alertmanager and node-exporter binaries needed {CI}")
    ports = {name: t.free_port() for name in ("prometheus", "alertmanager", "node-exporter")}
    site.write("alertmanager.yml", {"route": {"receiver": "null"}, "receivers": [{"name": "null"}]})
    site.write("prometheus.yml", prometheus_config(site, ports))
    d = site.dir
    processes = [
        t.start([NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{ports['node-exporter']}",
                 f"--web.config.file={site.web_config('node-exporter')}", "--collector.disable-defaults",
                 "--collector.loadavg"], d / "node-exporter.log"),
        t.start([ALERTMANAGER, f"--config.file={d / 'alertmanager.yml'}", f"--storage.path={d / 'am'}",
                 f"--web.listen-address=127.0.0.1:{ports['alertmanager']}", "--cluster.listen-address=",
                 f"--web.config.file={site.web_config('alertmanager')}"], d / "alertmanager.log"),
        t.start([PROMETHEUS, f"--config.file={d / 'prometheus.yml'}", f"--storage.tsdb.path={d / 'prom'}",
                 f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
                 f"--web.config.file={site.web_config('prometheus')}",
                 # firing alerts are resent each second (default 1m), so the one dropped before the
                 # Alertmanager was discovered is sent again at once
                 "--rules.alert.resend-delay=1s"], d / "prometheus.log"),
    ]
    try:
        yield ports
    finally:
        t.stop(processes)


def _query(site: Site, ports, path: str):
    name, ca = site.client("prometheus")
    return t.https_json(ports["prometheus"], name, ca, path)["data"]


def _targets(site: Site, ports) -> dict[str, dict]:
    return {target["labels"]["job"]: target for target in _query(site, ports, "/api/v1/targets")["activeTargets"]}


def test_prometheus_scrapes_over_tls_with_the_rendered_ca_and_server_name(site, running):
    def all_scraped():
        targets = _targets(site, running)
        return all(targets[job]["health"] != "unknown" for job in targets) and targets
    targets = t.wait_for(all_scraped, 30)
    assert targets, (site.dir / "prometheus.log").read_text()[-2000:]
    for job in ("node-exporter", "prometheus", "alertmanager"):
        assert targets[job]["health"] == "up", targets[job]
        assert targets[job]["scrapeUrl"].startswith("https://")


def test_prometheus_refuses_a_target_verified_with_another_ca(site, running):
    target = t.wait_for(lambda: (x := _targets(site, running)["node-exporter-other-ca"])["health"] == "down" and x, 30)
    assert target and "unknown authority" in target["lastError"]


def test_prometheus_delivers_alerts_to_alertmanager_over_tls(site, running):
    name, ca = site.client("alertmanager")

    def delivered():
        alerts = t.https_json(running["alertmanager"], name, ca, "/api/v2/alerts")
        return [a for a in alerts if a["labels"]["alertname"] == "DeliveredOverTls"]
    assert t.wait_for(delivered, 30), (site.dir / "prometheus.log").read_text()[-2000:]
    (active,) = _query(site, running, "/api/v1/alertmanagers")["activeAlertmanagers"]
    assert active["url"].startswith("https://")
    errors = _query(site, running, "/api/v1/query?query=sum(prometheus_notifications_errors_total)")["result"]
    assert float(errors[0]["value"][1]) == 0


@pytest.mark.parametrize("server", ["node-exporter", "prometheus", "alertmanager"])
def test_a_client_with_the_wrong_ca_or_name_or_no_tls_is_refused(site, running, server):
    name, ca = site.client(server)
    assert t.wait_for(lambda: t.https_get(running[server], name, ca, "/metrics")[0] == 200, 30)
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer certificate"):
        t.https_get(running[server], name, site.dir / "other-ca.crt", "/metrics")
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        t.https_get(running[server], "grafana.monitoring.svc", ca, "/metrics")
    plain = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://127.0.0.1:{running[server]}/metrics"],
                           capture_output=True, text=True)
    assert plain.stdout == "400"  # Go's answer to plain HTTP on a TLS port: no metrics


@needs["node-exporter"]
def test_node_exporter_serves_a_renewed_certificate_without_restart(site, tmp_path):
    port, config = t.free_port(), site.web_config("node-exporter")
    name, ca = site.client("node-exporter")
    secret = mounted_secret(pod_spec(site.objects, "node-exporter"), MOUNT_PATH)
    process = t.start([NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}", f"--web.config.file={config}",
                       "--collector.disable-defaults", "--collector.loadavg"], tmp_path / "node-exporter.log")
    try:
        before = t.wait_for(lambda: t.served_serial(port, name, ca), 30)
        assert before
        # cert-manager renews: new key and certificate in the Secret, which the kubelet updates in the volume
        site.ca.issue(certificate_of_secret(site.objects, "monitoring-agents", secret), site.secrets / secret)
        after = t.served_serial(port, name, ca)
        assert after != before and process.poll() is None
    finally:
        t.stop([process])


@needs["alertmanager"]
def test_alertmanager_peers_gossip_over_mutual_tls_and_refuse_another_ca(site, tmp_path):
    cluster = site.resource("Alertmanager")["spec"]["clusterTLS"]
    good = site.write("cluster-tls.yml", t.operator_cluster_tls_config(cluster, site.secrets))
    # a member whose certificate and trust come from another CA
    secret = cluster["server"]["cert"]["secret"]["name"]
    site.other_ca.issue(certificate_of_secret(site.objects, "monitoring", secret), tmp_path / "other" / secret)
    other = site.write("cluster-tls-other.yml", t.operator_cluster_tls_config(cluster, tmp_path / "other"))
    web = site.web_config("alertmanager")
    site.write("alertmanager.yml", {"route": {"receiver": "null"}, "receivers": [{"name": "null"}]})
    web_ports, mesh = [t.free_port() for _ in range(3)], [t.free_port() for _ in range(3)]
    peers = [mesh[1], mesh[0], mesh[0]]

    def member(i: int, tls_config: Path):
        return t.start([ALERTMANAGER, f"--config.file={site.dir / 'alertmanager.yml'}", f"--storage.path={tmp_path / str(i)}",
                        f"--web.listen-address=127.0.0.1:{web_ports[i]}", f"--web.config.file={web}",
                        f"--cluster.listen-address=127.0.0.1:{mesh[i]}", f"--cluster.peer=127.0.0.1:{peers[i]}",
                        f"--cluster.tls-config={tls_config}", "--cluster.settle-timeout=2s"], tmp_path / f"am{i}.log")
    name, ca = site.client("alertmanager")

    def peers_seen(i: int) -> int:
        return len(t.https_json(web_ports[i], name, ca, "/api/v2/status")["cluster"].get("peers") or [])
    processes = [member(0, good), member(1, good)]
    try:
        assert t.wait_for(lambda: peers_seen(0) == 2 and peers_seen(1) == 2, 30), (tmp_path / "am0.log").read_text()[-2000:]
        processes.append(member(2, other))
        assert t.wait_for(lambda: peers_seen(2) == 1, 30)
        t.wait_for(lambda: False, 5)  # give the outsider time to try
        assert peers_seen(0) == 2 and peers_seen(2) == 1
    finally:
        t.stop(processes)
