"""Alertmanager as rendered: amtool accepts it, routes each severity where it should, channels switch
off cleanly, no credential is rendered, and the real Alertmanager binary delivers to stand-ins for
Slack, PagerDuty and SMTP on 127.0.0.1 (inhibition included), within 2 s for critical alerts."""
from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from conftest import DIST, run_main
from stackgen.flows import Address, flow_allowed
from stackgen.manifests import Manifests
from stackgen.validate import load_tree

AMTOOL = shutil.which("amtool")
ALERTMANAGER = shutil.which("alertmanager") or shutil.which("prometheus-alertmanager")
needs_amtool = pytest.mark.skipif(AMTOOL is None, reason="amtool not on PATH (CI installs prometheus-alertmanager)")


def config_secret(objects):
    return next(o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"] == "alertmanager-main-config")


def rendered(objects):
    data = config_secret(objects)["stringData"]
    return yaml.safe_load(data["alertmanager.yaml"]), data["notifications.tmpl"]


def write_config(config, templates, directory: Path) -> Path:
    """The rendered configuration with its template glob pointed at a local copy of the template file."""
    (directory / "notifications.tmpl").write_text(templates)
    config = {**config, "templates": [str(directory / "*.tmpl")]}
    path = directory / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@needs_amtool
def test_amtool_accepts_the_config_and_its_templates(objects, tmp_path):
    config, templates = rendered(objects)
    result = subprocess.run([AMTOOL, "check-config", str(write_config(config, templates, tmp_path))],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and " - 1 templates" in result.stdout, result.stdout + result.stderr


ROUTES = [({"severity": "critical", "alertname": "OpenEMRHighErrorRate"}, "critical"),
          ({"severity": "warning", "alertname": "KubeJobFailed"}, "warning"),
          ({"severity": "info", "alertname": "Anything"}, "null"),
          ({"severity": "info", "alertname": "Watchdog"}, "null"),
          ({"alertname": "NoSeverity"}, "null")]


@needs_amtool
@pytest.mark.parametrize("labels,receiver", ROUTES)
def test_amtool_routes_each_severity(objects, tmp_path, labels, receiver):
    config, templates = rendered(objects)
    path = write_config(config, templates, tmp_path)
    result = subprocess.run([AMTOOL, "config", "routes", "test", f"--config.file={path}",
                             *(f"{k}={v}" for k, v in labels.items())], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == receiver, result.stdout + result.stderr


def test_receivers_read_credentials_from_mounted_secret_files_only(objects):
    config, _ = rendered(objects)
    alertmanager = next(o for o in objects if o["kind"] == "Alertmanager")
    mounted = alertmanager["spec"]["secrets"]
    files = [value for receiver in config["receivers"] for kind, entries in receiver.items() if kind != "name"
             for entry in entries for key, value in entry.items() if key.endswith("_file")]
    assert len(files) == 4  # Slack twice, PagerDuty, SMTP
    assert all(f.split("/")[4] in mounted and f.startswith("/etc/alertmanager/secrets/") for f in files)
    flat = yaml.safe_dump(config)
    for inline in ("api_url:", "routing_key:", "service_key:", "auth_password:", "hooks.slack.com"):
        assert inline not in flat
    assert not [o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"] in mounted]


def test_egress_allows_the_smarthost_host_and_port(objects):
    config, _ = rendered(objects)
    host, port = config["receivers"][2]["email_configs"][0]["smarthost"].rsplit(":", 1)
    m = Manifests(objects)
    alertmanager = next(p for p in m.pods() if p.labels.get("app.kubernetes.io/name") == "alertmanager")
    assert flow_allowed(m, alertmanager, Address("203.0.113.25", host), int(port))
    assert not flow_allowed(m, alertmanager, Address("203.0.113.25", "mail.other.example"), int(port))


def render_with(tmp_path, overlay_text):
    overlays = tmp_path / "overlays"
    overlays.mkdir()
    (overlays / "clinic.yaml").write_text(overlay_text)
    result = run_main("--overlays", str(overlays), "--dist", str(tmp_path / "dist"))
    return result, tmp_path / "dist" / "clinic"


def test_a_channel_turned_off_disappears_with_its_secret(tmp_path):
    result, out = render_with(tmp_path, "alerting:\n  slack: {enabled: false}\n  email: {smarthost: 'mail.example.org:465'}\n")
    assert result.returncode == 0, result.stderr
    objects = load_tree(out)
    config, _ = rendered(objects)
    assert "slack" not in yaml.safe_dump(config["receivers"])
    assert next(o for o in objects if o["kind"] == "Alertmanager")["spec"]["secrets"] == [
        "alertmanager-pagerduty", "alertmanager-smtp"]
    test_egress_allows_the_smarthost_host_and_port(objects)


def test_a_channel_turned_on_without_its_secret_stops_synthesis(tmp_path):
    result, out = render_with(tmp_path, "alerting:\n  email: {secret: null}\n")
    assert result.returncode == 2 and not out.exists()
    assert "alerting.email.secret=None must name the Secret (name, key) holding the credential" in result.stderr


# --- end to end with the real binary --------------------------------------------------------------

class Recorder(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Recorder.received.append((self.path, body, time.monotonic()))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(port, path, payload=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="POST" if payload else "GET",
                                     data=json.dumps(payload).encode() if payload else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read() or b"null")


def wait_for(condition, timeout, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (result := condition()):
            return result
        time.sleep(step)
    return None


def local_config(config, secrets_dir: Path, http_port: int, smtp_port: int) -> dict:
    """The rendered config with only the endpoints moved to loopback: credential files under a local
    directory (the Slack URL file names the stand-in), PagerDuty's URL and the smarthost local, no TLS."""
    text = yaml.safe_dump(config).replace("/etc/alertmanager/secrets", str(secrets_dir))
    config = yaml.safe_load(text)
    for receiver in config["receivers"]:
        for entry in receiver.get("pagerduty_configs", []):
            entry["url"] = f"http://127.0.0.1:{http_port}/pagerduty"
        for entry in receiver.get("email_configs", []):
            entry.update(smarthost=f"127.0.0.1:{smtp_port}", require_tls=False)
    return config


@pytest.mark.skipif(ALERTMANAGER is None, reason="alertmanager binary not on PATH (CI installs prometheus-alertmanager)")
def test_alertmanager_delivers_by_severity_and_inhibits(tmp_path, capsys):
    from aiosmtpd.controller import Controller

    config, templates = rendered(load_tree(DIST / "hospital"))
    mails = []

    class Mailbox:
        async def handle_DATA(self, server, session, envelope):
            mails.append((envelope.rcpt_tos, envelope.content.decode(errors="replace"), time.monotonic()))
            return "250 OK"

    Recorder.received = []
    http = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    smtp_port, am_port = free_port(), free_port()
    smtp = Controller(Mailbox(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    secrets = tmp_path / "secrets"
    for ref, value in {("alertmanager-slack", "api-url"): f"http://127.0.0.1:{http.server_port}/slack",
                       ("alertmanager-pagerduty", "routing-key"): "test-routing-key",
                       ("alertmanager-smtp", "password"): "test-password"}.items():
        (secrets / ref[0]).mkdir(parents=True)
        (secrets / ref[0] / ref[1]).write_text(value)
    path = write_config(local_config(config, secrets, http.server_port, smtp_port), templates, tmp_path)
    process = subprocess.Popen([ALERTMANAGER, f"--config.file={path}", f"--storage.path={tmp_path / 'data'}",
                                f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: _ready(am_port), 30), "Alertmanager did not start"
        alerts = {
            "critical": {"alertname": "OpenEMRHighErrorRate", "severity": "critical", "namespace": "openemr"},
            "inhibited-by-critical": {"alertname": "OpenEMRHighErrorRate", "severity": "warning", "namespace": "openemr"},
            "node": {"alertname": "KubeNodeNotReady", "severity": "critical", "node": "n1"},
            "inhibited-by-node": {"alertname": "OpenEMRPodNotReady", "severity": "warning", "namespace": "openemr",
                                  "pod": "openemr-1", "node": "n1"},
            "warning": {"alertname": "KubeJobFailed", "severity": "warning", "namespace": "shop"},
            "info": {"alertname": "Watchdog", "severity": "info"},
        }
        api(am_port, "/api/v2/alerts", [{"labels": labels, "annotations": {
            "summary": f"{labels['alertname']} summary", "runbook_url": "https://example.org/runbooks.md#x"}}
            for labels in alerts.values()])
        posted = time.monotonic()

        def arrived(path, alertname):
            return next((t for p, body, t in Recorder.received if p == path and alertname in json.dumps(body)), None)

        slack_at = wait_for(lambda: arrived("/slack", "OpenEMRHighErrorRate"), 10)
        pagerduty_at = wait_for(lambda: arrived("/pagerduty", "OpenEMRHighErrorRate"), 10)
        assert slack_at and pagerduty_at, Recorder.received
        with capsys.disabled():  # the measurement belongs in CI's log
            print(f"\ncritical alert delivery after POST: Slack {slack_at - posted:.3f} s, "
                  f"PagerDuty {pagerduty_at - posted:.3f} s (group_wait 1s)")
        assert slack_at - posted <= 2.0 and pagerduty_at - posted <= 2.0

        state = {a["labels"]["alertname"] + "/" + a["labels"]["severity"]: a["status"]
                 for a in api(am_port, "/api/v2/alerts")}
        assert state["OpenEMRHighErrorRate/warning"]["state"] == "suppressed"
        assert state["OpenEMRHighErrorRate/warning"]["inhibitedBy"]
        assert state["OpenEMRPodNotReady/warning"]["inhibitedBy"]
        assert state["KubeJobFailed/warning"]["state"] == "active"

        # Warnings wait group_wait (30s) before their first notification.
        assert wait_for(lambda: mails and arrived("/slack", "KubeJobFailed"), 45, step=0.5)
        time.sleep(2)
        slack = [(body["channel"], body["attachments"][0]["title"]) for p, body, _ in Recorder.received if p == "/slack"]
        pagerduty = [body for p, body, _ in Recorder.received if p == "/pagerduty"]
        assert sorted(slack) == sorted([("#alerts-critical", "[FIRING:1] OpenEMRHighErrorRate (openemr)"),
                                        ("#alerts-critical", "[FIRING:1] KubeNodeNotReady"),
                                        ("#alerts-warnings", "[FIRING:1] KubeJobFailed (shop)")])
        assert sorted(p["payload"]["summary"] for p in pagerduty) == [
            "[FIRING:1] KubeNodeNotReady", "[FIRING:1] OpenEMRHighErrorRate (openemr)"]
        assert {p["routing_key"] for p in pagerduty} == {"test-routing-key"}  # read from the mounted file
        assert len(mails) == 1 and mails[0][0] == [config["receivers"][2]["email_configs"][0]["to"]]
        assert "Subject: [FIRING:1] KubeJobFailed (shop)" in mails[0][1]
        assert "Watchdog" not in json.dumps([b for _, b, _ in Recorder.received]) + mails[0][1]
        assert "OpenEMRPodNotReady" not in json.dumps([b for _, b, _ in Recorder.received]) + mails[0][1]
    finally:
        process.terminate()
        process.wait(timeout=10)
        smtp.stop()
        http.shutdown()


def _ready(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


# --- every inhibition, end to end -------------------------------------------------------------------

NODE = {"node": "n1", "instance": "n1"}
# (what is proven, source, target it silences, control it must not silence)
INHIBITIONS = [
    ("a down node silences every other alert on it, critical ones too",
     {"alertname": "KubeNodeNotReady", "severity": "critical", "node": "n1"},
     {"alertname": "FluentBitDroppingRecords", "severity": "critical", **NODE, "name": "loki.0"},
     {"alertname": "FluentBitDroppingRecords", "severity": "critical", "node": "n2", "instance": "n2", "name": "loki.0"}),
    ("a down node silences node-exporter's alerts of that node",
     {"alertname": "KubeNodeNotReady", "severity": "critical", "node": "n1"},
     {"alertname": "NodeHighLoad", "severity": "warning", **NODE},
     {"alertname": "NodeHighLoad", "severity": "warning", "node": "n2", "instance": "n2"}),
    ("Loki down silences Fluent Bit's retries, not its dropped records",
     {"alertname": "LokiDown", "severity": "critical"},
     {"alertname": "FluentBitRetriesFailing", "severity": "warning", "node": "n3", "instance": "n3", "name": "loki.0"},
     {"alertname": "FluentBitDroppingRecords", "severity": "critical", "node": "n3", "instance": "n3", "name": "loki.0"}),
    ("a red Elasticsearch cluster silences the Elasticsearch output's retries, not its dropped records",
     {"alertname": "ElasticsearchClusterRed", "severity": "critical", "namespace": "monitoring", "es_cluster": "logs"},
     {"alertname": "FluentBitRetriesFailing", "severity": "warning", "node": "n7", "instance": "n7", "name": "es.1"},
     {"alertname": "FluentBitDroppingRecords", "severity": "critical", "node": "n7", "instance": "n7", "name": "es.1"}),
    ("a red Elasticsearch cluster silences its own yellow, not another cluster's",
     {"alertname": "ElasticsearchClusterRed", "severity": "critical", "namespace": "monitoring", "es_cluster": "logs"},
     {"alertname": "ElasticsearchClusterYellow", "severity": "warning", "namespace": "monitoring", "es_cluster": "logs"},
     {"alertname": "ElasticsearchClusterYellow", "severity": "warning", "namespace": "monitoring", "es_cluster": "other"}),
    ("an Elasticsearch node at flood stage silences its high-watermark alert, not another node's",
     {"alertname": "ElasticsearchDiskFloodStage", "severity": "critical", "namespace": "monitoring", "name": "es-0"},
     {"alertname": "ElasticsearchDiskHighWatermark", "severity": "warning", "namespace": "monitoring", "name": "es-0"},
     {"alertname": "ElasticsearchDiskHighWatermark", "severity": "warning", "namespace": "monitoring", "name": "es-1"}),
    ("Mimir down silences Prometheus' remote-write alerts, not its rule failures",
     {"alertname": "MimirDown", "severity": "critical"},
     {"alertname": "PrometheusRemoteWriteFailing", "severity": "critical", "namespace": "monitoring", "remote_name": "mimir"},
     {"alertname": "PrometheusRuleFailures", "severity": "critical", "namespace": "monitoring"}),
    ("Tempo down silences OTeBPF's trace export errors",
     {"alertname": "TempoDown", "severity": "critical"},
     {"alertname": "OTeBPFTraceExportErrors", "severity": "warning", "node": "n4", "instance": "n4"},
     {"alertname": "OTeBPFInstrumentationErrors", "severity": "warning", "node": "n4", "instance": "n4"}),
    ("a full volume silences its filling-up alerts, not another claim's",
     {"alertname": "KubePersistentVolumeFull", "severity": "critical", "namespace": "shop", "persistentvolumeclaim": "a"},
     {"alertname": "KubePersistentVolumeFillingUpPredicted", "severity": "warning", "namespace": "shop",
      "persistentvolumeclaim": "a"},
     {"alertname": "KubePersistentVolumeFillingUpPredicted", "severity": "warning", "namespace": "shop",
      "persistentvolumeclaim": "b"}),
    ("an almost full filesystem silences its predictive alert, not another mount's",
     {"alertname": "NodeFilesystemAlmostOutOfSpace", "severity": "critical", "instance": "n5", "mountpoint": "/var"},
     {"alertname": "NodeFilesystemSpaceFillingUp", "severity": "warning", "instance": "n5", "mountpoint": "/var"},
     {"alertname": "NodeFilesystemSpaceFillingUp", "severity": "warning", "instance": "n5", "mountpoint": "/data"}),
    ("an almost inode-less filesystem silences its predictive alert",
     {"alertname": "NodeFilesystemAlmostOutOfFiles", "severity": "critical", "instance": "n5", "mountpoint": "/var"},
     {"alertname": "NodeFilesystemFilesFillingUp", "severity": "warning", "instance": "n5", "mountpoint": "/var"},
     {"alertname": "NodeFilesystemFilesFillingUp", "severity": "warning", "instance": "n6", "mountpoint": "/var"}),
    ("a stuck rollout silences the replica mismatch of the same deployment",
     {"alertname": "KubeDeploymentRolloutStuck", "severity": "warning", "namespace": "shop", "deployment": "d"},
     {"alertname": "KubeDeploymentReplicasMismatch", "severity": "warning", "namespace": "shop", "deployment": "d"},
     {"alertname": "KubeDeploymentReplicasMismatch", "severity": "warning", "namespace": "shop", "deployment": "e"}),
    ("Alertmanager's cluster down silences its members-missing alert",
     {"alertname": "AlertmanagerClusterDown", "severity": "critical", "namespace": "monitoring", "service": "alertmanager"},
     {"alertname": "AlertmanagerClusterMembersMissing", "severity": "warning", "namespace": "monitoring",
      "service": "alertmanager", "instance": "a"},
     {"alertname": "AlertmanagerClusterMembersMissing", "severity": "warning", "namespace": "other",
      "service": "alertmanager", "instance": "a"}),
    ("OpenEMR down silences OpenEMR's warnings",
     {"alertname": "OpenEMRDown", "severity": "critical", "namespace": "openemr", "deployment": "openemr"},
     {"alertname": "OpenEMRHighLatency", "severity": "warning", "namespace": "openemr"},
     {"alertname": "KubeJobFailed", "severity": "warning", "namespace": "openemr", "job_name": "backup"}),
]


@contextlib.contextmanager
def alertmanager_running(tmp_path, config, templates):
    """The real binary on 127.0.0.1 with the rendered configuration; receivers point at a closed port."""
    dead = free_port()
    secrets = tmp_path / "secrets"
    for name, key in (("alertmanager-slack", "api-url"), ("alertmanager-pagerduty", "routing-key"),
                      ("alertmanager-smtp", "password")):
        (secrets / name).mkdir(parents=True)
        (secrets / name / key).write_text(f"http://127.0.0.1:{dead}/x" if key == "api-url" else "x")
    path = write_config(local_config(config, secrets, dead, dead), templates, tmp_path)
    port = free_port()
    process = subprocess.Popen([ALERTMANAGER, f"--config.file={path}", f"--storage.path={tmp_path / 'data'}",
                                f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: _ready(port), 30), "Alertmanager did not start"
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_every_inhibit_rule_is_proven_below():
    config, _ = rendered(load_tree(DIST / "hospital"))
    sources = {matcher for rule in config["inhibit_rules"] for matcher in rule["source_matchers"]}
    proven = {f'alertname="{source["alertname"]}"' for _, source, _, _ in INHIBITIONS} | {'severity="critical"'}
    assert sources == proven


@pytest.mark.skipif(ALERTMANAGER is None, reason="alertmanager binary not on PATH (CI installs prometheus-alertmanager)")
def test_each_inhibition_silences_its_target_and_not_its_control(tmp_path):
    config, templates = rendered(load_tree(DIST / "hospital"))
    with alertmanager_running(tmp_path, config, templates) as port:
        posted = [labels for _, source, target, control in INHIBITIONS for labels in (source, target, control)]
        api(port, "/api/v2/alerts", [{"labels": labels} for labels in posted])

        def status():
            found = {json.dumps(a["labels"], sort_keys=True): a["status"] for a in api(port, "/api/v2/alerts")}
            return found if len(found) == len({json.dumps(p, sort_keys=True) for p in posted}) else None
        assert wait_for(lambda: (s := status()) and all(s[json.dumps(t, sort_keys=True)]["inhibitedBy"]
                                                        for _, _, t, _ in INHIBITIONS), 10), status()
        state = status()
        for what, source, target, control in INHIBITIONS:
            assert state[json.dumps(target, sort_keys=True)]["state"] == "suppressed", what
            assert state[json.dumps(control, sort_keys=True)]["inhibitedBy"] == [], what
            assert state[json.dumps(source, sort_keys=True)]["inhibitedBy"] == [], what
