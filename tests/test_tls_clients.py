"""Encryption in transit for Grafana, the log shippers and the agents, as rendered: every client of a stack
Service dials it by https or `tls on`, verifies its chain against the CA in the pod's OWN certificate Secret
and its name, with TLS 1.2 at least; Grafana serves HTTPS from its certificate and reloads it; the keys are
those of the pinned versions. Each check is a helper here, shown to catch the mutation it exists for."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from conftest import DIST, OVERLAYS, run_main
from stackgen.checks.fluent_bit import catalog, config_problems
from stackgen.components.fluent_bit import CONFIG_DIR, CONFIG_FILE
from stackgen.lib.tls import CA_FILE, MOUNT_PATH
from stackgen.validate import load_tree

STACK_HOST = re.compile(r"^[a-z0-9-]+\.[a-z0-9-]+\.svc(\.cluster\.local)?$")
FLUENT_BIT_VERSIONS = ("TLSv1.2", "TLSv1.3")
# Grafana 12's [server] section (conf/defaults.ini): the keys TLS takes and the values min_tls_version accepts
# (pkg/util TlsNameToVersion).
GRAFANA_SERVER_KEYS = {"protocol", "cert_file", "cert_key", "min_tls_version", "certs_watch_interval"}
GRAFANA_VERSIONS = ("TLS1.2", "TLS1.3")
GRAFANA_FILE = re.compile(r"^\$__file\{(/[^}]+)\}$")


# --- the checks -------------------------------------------------------------------------------------------

def fluent_bit_output_problems(plugin: dict) -> list[str]:
    """An output to a stack Service must verify the server's chain and name (Fluent Bit leaves the name
    unchecked unless told) against a CA file, at TLS 1.2 or later."""
    host = str(plugin.get("host", ""))
    if not STACK_HOST.match(host):
        return []
    wanted = {"tls": "on", "tls.verify": "on", "tls.verify_hostname": "on"}
    problems = [f"{plugin['name']} -> {host}: {key} is {plugin.get(key)!r}, not 'on'"
                for key, value in wanted.items() if str(plugin.get(key)) != value]
    if not plugin.get("tls.ca_file"):
        problems.append(f"{plugin['name']} -> {host}: no tls.ca_file")
    if plugin.get("tls.min_version") not in FLUENT_BIT_VERSIONS:
        problems.append(f"{plugin['name']} -> {host}: tls.min_version {plugin.get('tls.min_version')!r}")
    if plugin.get("tls.vhost") not in (None, host):
        problems.append(f"{plugin['name']} -> {host}: tls.vhost {plugin['tls.vhost']} is verified, not the host")
    return problems


def fluent_bit_listener_problems(plugin: dict) -> list[str]:
    """A network input (forward) must serve TLS from the pod's certificate."""
    if plugin.get("name") != "forward":
        return []
    problems = [f"forward input: {key} missing" for key in ("tls.crt_file", "tls.key_file", "tls.ca_file")
                if not plugin.get(key)]
    if str(plugin.get("tls")) != "on" or str(plugin.get("tls.verify", "on")) != "on":
        problems.append("forward input: tls or tls.verify not on")
    if plugin.get("tls.min_version") not in FLUENT_BIT_VERSIONS:
        problems.append(f"forward input: tls.min_version {plugin.get('tls.min_version')!r}")
    return problems


def datasource_problems(source: dict) -> list[str]:
    """A datasource with a URL must be https, verified against a CA file Grafana reads at provisioning."""
    if "url" not in source:
        return []
    name, json_data = source["name"], source.get("jsonData") or {}
    problems = [] if source["url"].startswith("https://") else [f"{name}: {source['url']} is not https"]
    if json_data.get("tlsAuthWithCACert") is not True:
        problems.append(f"{name}: tlsAuthWithCACert is not true")
    if json_data.get("tlsSkipVerify"):
        problems.append(f"{name}: tlsSkipVerify")
    if not GRAFANA_FILE.match(str((source.get("secureJsonData") or {}).get("tlsCACert", ""))):
        problems.append(f"{name}: tlsCACert is not a $__file{{}} reference")
    return problems


def grafana_server(env: list[dict]) -> dict[str, str]:
    """The [server] keys set through GF_SERVER_<KEY> variables."""
    return {e["name"].removeprefix("GF_SERVER_").lower(): e.get("value") for e in env
            if e["name"].startswith("GF_SERVER_")}


def grafana_server_problems(server: dict[str, str]) -> list[str]:
    problems = [f"[server] {key}: not a key of Grafana's" for key in server if key not in GRAFANA_SERVER_KEYS]
    if server.get("protocol") != "https":
        problems.append(f"[server] protocol {server.get('protocol')!r}")
    if not (server.get("cert_file") and server.get("cert_key")):
        problems.append("[server] cert_file or cert_key missing")
    if server.get("min_tls_version") not in GRAFANA_VERSIONS:
        problems.append(f"[server] min_tls_version {server.get('min_tls_version')!r}")
    if not re.fullmatch(r"[1-9][0-9]*[hms]", server.get("certs_watch_interval") or ""):
        problems.append("[server] certs_watch_interval unset: a renewed certificate would not be served")
    return problems


def own_secret_problems(objects: list[dict], pod: Client, path: str) -> list[str]:
    """`path` must be read from the pod's OWN certificate Secret (`<owner>-tls`), which a Certificate in its
    namespace issues: no pod mounts another component's Secret."""
    mount = next((m for m in pod.container.get("volumeMounts", []) if path.startswith(m["mountPath"] + "/")), None)
    if mount is None:
        return [f"{pod.owner}: nothing mounted for {path}"]
    volume = next(v for v in pod.spec["volumes"] if v["name"] == mount["name"])
    secret = (volume.get("secret") or {}).get("secretName")
    issued = [c for c in _of(objects, "Certificate") if c["spec"]["secretName"] == secret
              and c["metadata"]["namespace"] == pod.namespace]
    if secret != f"{pod.owner}-tls" or not issued:
        return [f"{pod.owner}: {path} comes from {secret!r}, not its own certificate Secret"]
    return []


# --- reading the rendered output --------------------------------------------------------------------------

@dataclass(frozen=True)
class Client:
    """A container of a rendered pod that dials the stack, the identity it runs as and its namespace."""
    owner: str
    namespace: str
    spec: dict
    container: dict
    config: dict = field(default_factory=dict)


def _of(objects, kind, name=None):
    return [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]


def _pod(objects, kind, name) -> Client:
    [workload] = _of(objects, kind, name)
    spec = workload["spec"]["template"]["spec"]
    [container] = spec["containers"]
    return Client(workload["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"],
                   workload["metadata"]["namespace"], spec, container)


def _sidecar_objects(overlay: str) -> list[dict]:
    """The OpenEMR Component's objects, its Deployment patch given the namespace it applies in."""
    directory = DIST / overlay / "openemr-sidecar"
    if not directory.exists():
        return []
    objects = [o for f in sorted(directory.glob("*.yaml")) for o in yaml.safe_load_all(f.read_text()) if o]
    patch = yaml.safe_load(next(o for o in objects if o["kind"] == "Component")["patches"][0]["patch"])
    patch["metadata"]["namespace"] = _of(objects, "ConfigMap")[0]["metadata"]["namespace"]
    return [o for o in objects if o["kind"] != "Component"] + [patch]


def _fluent_bit_pods(objects: list[dict]) -> list[Client]:
    """Every Fluent Bit container (the ones that read a configuration at CONFIG_DIR), as the identity its
    ConfigMap carries, with that configuration parsed."""
    found = []
    for workload in _of(objects, "Deployment") + _of(objects, "DaemonSet"):
        spec, namespace = workload["spec"]["template"]["spec"], workload["metadata"]["namespace"]
        for container in spec["containers"]:
            mount = next((m for m in container.get("volumeMounts", []) if m["mountPath"] == CONFIG_DIR), None)
            if mount is None:
                continue
            volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
            [config_map] = [c for c in _of(objects, "ConfigMap", volume["configMap"]["name"])
                            if c["metadata"]["namespace"] == namespace]
            found.append(Client(config_map["metadata"]["labels"]["app.kubernetes.io/name"], namespace, spec,
                                 container, yaml.safe_load(config_map["data"][CONFIG_FILE])))
    return found


def _plugins(config: dict, section: str) -> list[dict]:
    return config.get("pipeline", {}).get(section, [])


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request) -> tuple[str, list[dict]]:
    return request.param, load_tree(DIST / request.param) + _sidecar_objects(request.param)


# --- Fluent Bit -------------------------------------------------------------------------------------------

def test_every_fluent_bit_client_of_a_stack_service_verifies_it_with_its_own_ca(rendered):
    overlay, objects = rendered
    pods = _fluent_bit_pods(objects)
    owners = {pod.owner for pod in pods}
    assert {"fluent-bit", "fluent-bit-events"} <= owners
    assert ("openemr-fluent-bit" in owners) == (overlay in ("hospital-elk", "large"))
    checked = 0
    for pod in pods:
        for output in _plugins(pod.config, "outputs"):
            assert fluent_bit_output_problems(output) == []
            if STACK_HOST.match(str(output.get("host", ""))):
                checked += 1
                ca_file = output["tls.ca_file"]
                if ca_file.startswith(MOUNT_PATH + "/"):  # the stack's CA; Elasticsearch's is ECK's own
                    assert own_secret_problems(objects, pod, ca_file) == []
        for source in _plugins(pod.config, "inputs"):
            assert fluent_bit_listener_problems(source) == []
    assert checked >= len(pods)  # every shipper sends somewhere in the stack


def test_the_node_agents_forward_listener_serves_a_certificate_for_the_name_the_sidecar_dials():
    objects = load_tree(DIST / "hospital-elk") + _sidecar_objects("hospital-elk")
    pods = {pod.owner: pod for pod in _fluent_bit_pods(objects)}
    [forward_out] = [o for o in _plugins(pods["openemr-fluent-bit"].config, "outputs") if o["name"] == "forward"]
    [listener] = [i for i in _plugins(pods["fluent-bit"].config, "inputs") if i["name"] == "forward"]
    for key in ("tls.crt_file", "tls.key_file", "tls.ca_file"):
        assert own_secret_problems(objects, pods["fluent-bit"], listener[key]) == []
    [certificate] = [c for c in _of(objects, "Certificate", "fluent-bit-tls")]
    assert forward_out["host"] in certificate["spec"]["dnsNames"]
    assert fluent_bit_output_problems(forward_out) == [] and forward_out["port"] == listener["port"]


def test_fluent_bits_tls_keys_are_those_of_the_pinned_catalog(rendered):
    _, objects = rendered
    common = catalog()["common"]
    for pod in _fluent_bit_pods(objects):
        assert config_problems(pod.config) == []
        for section, kind in (("outputs", "output"), ("inputs", "input")):
            for plugin in _plugins(pod.config, section):
                assert {k for k in plugin if k.startswith("tls")} <= set(common[kind])
    # the catalog check is real: a TLS key 4.2.0 does not have is reported
    config = {"pipeline": {"outputs": [{"name": "loki", "match": "*", "tls.verify_host": "on"}]}}
    assert config_problems(config) == ["output loki: unknown key 'tls.verify_host'"]


LOKI = {"name": "loki", "host": "loki-write.monitoring.svc.cluster.local", "port": 3100, "tls": "on",
        "tls.verify": "on", "tls.verify_hostname": "on", "tls.ca_file": CA_FILE, "tls.min_version": "TLSv1.3"}


@pytest.mark.parametrize("mutation, problem", [
    ({"tls.verify": "off"}, "tls.verify is 'off'"),
    ({"tls": "off"}, "tls is 'off'"),
    ({"tls.verify_hostname": None}, "tls.verify_hostname is None"),
    ({"tls.ca_file": None}, "no tls.ca_file"),
    ({"tls.min_version": "TLSv1.1"}, "tls.min_version 'TLSv1.1'"),
    ({"tls.vhost": "elsewhere.example.org"}, "tls.vhost elsewhere.example.org is verified"),
])
def test_the_fluent_bit_check_catches_an_unverified_output(mutation, problem):
    assert fluent_bit_output_problems(LOKI) == []
    mutated = {k: v for k, v in {**LOKI, **mutation}.items() if v is not None}
    assert any(problem in p for p in fluent_bit_output_problems(mutated))


def test_the_listener_check_catches_a_forward_input_without_a_certificate():
    listener = {"name": "forward", "tls": "on", "tls.ca_file": CA_FILE, "tls.crt_file": "/etc/tls/tls.crt",
                "tls.key_file": "/etc/tls/tls.key", "tls.min_version": "TLSv1.3"}
    assert fluent_bit_listener_problems(listener) == []
    assert fluent_bit_listener_problems({k: v for k, v in listener.items() if k != "tls.key_file"}) == [
        "forward input: tls.key_file missing"]


# --- Grafana ----------------------------------------------------------------------------------------------

def test_grafana_serves_https_from_its_own_certificate_and_reloads_it(rendered):
    _, objects = rendered
    grafana = _pod(objects, "Deployment", "grafana")
    server = grafana_server(grafana.container["env"])
    assert grafana_server_problems(server) == []
    for key in ("cert_file", "cert_key"):
        assert own_secret_problems(objects, grafana, server[key]) == []
    for probe in ("readinessProbe", "livenessProbe"):
        assert grafana.container[probe]["httpGet"]["scheme"] == "HTTPS"
    # Prometheus scrapes it over https, verifying the CA of Grafana's Secret and a name its certificate has
    [certificate] = _of(objects, "Certificate", "grafana-tls")
    [endpoint] = _of(objects, "ServiceMonitor", "grafana")[0]["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"]["ca"]["secret"] == {"name": certificate["spec"]["secretName"], "key": "ca.crt"}
    assert endpoint["tlsConfig"]["serverName"] in certificate["spec"]["dnsNames"]
    [grafana_service] = _of(objects, "Service", "grafana")
    namespace = grafana_service["metadata"]["namespace"]
    assert f"grafana.{namespace}.svc.cluster.local" in certificate["spec"]["dnsNames"]


@pytest.mark.parametrize("mutation, problem", [
    ({"protocol": "http"}, "protocol 'http'"),
    ({"min_tls_version": "TLS1.1"}, "min_tls_version 'TLS1.1'"),
    ({"cert_key": None}, "cert_file or cert_key missing"),
    ({"certs_watch_interval": None}, "certs_watch_interval unset"),
    ({"cert_pem": "x"}, "cert_pem: not a key"),
])
def test_the_grafana_server_check_catches_plain_or_unreloaded_serving(mutation, problem):
    good = {"protocol": "https", "cert_file": "/etc/tls/tls.crt", "cert_key": "/etc/tls/tls.key",
            "min_tls_version": "TLS1.2", "certs_watch_interval": "1m"}
    assert grafana_server_problems(good) == []
    mutated = {k: v for k, v in {**good, **mutation}.items() if v is not None}
    assert any(problem in p for p in grafana_server_problems(mutated))


def test_every_grafana_datasource_of_the_stack_verifies_it_with_grafanas_ca(rendered):
    _, objects = rendered
    grafana = _pod(objects, "Deployment", "grafana")
    [config_map] = _of(objects, "ConfigMap", "grafana-datasources")
    sources = yaml.safe_load(config_map["data"]["datasources.yaml"])["datasources"]
    with_url = [s for s in sources if "url" in s]
    assert {"prometheus", "mimir", "alertmanager", "tempo"} <= {s["uid"] for s in with_url}
    for source in with_url:
        assert datasource_problems(source) == []
        ca_file = GRAFANA_FILE.match(source["secureJsonData"]["tlsCACert"]).group(1)
        if source["type"] != "elasticsearch":  # Elasticsearch's CA is ECK's, copied by the setup Job
            assert ca_file == CA_FILE and own_secret_problems(objects, grafana, ca_file) == []
            assert STACK_HOST.match(re.match(r"https://([^:/]+)", source["url"]).group(1))
    # AWS datasources have no URL of the stack
    assert {s["uid"] for s in sources} - {s["uid"] for s in with_url} == {"cloudwatch", "x-ray"}


@pytest.mark.parametrize("mutation, problem", [
    ({"url": "http://loki-read.monitoring.svc.cluster.local:3100"}, "is not https"),
    ({"jsonData": {"tlsAuthWithCACert": True, "tlsSkipVerify": True}}, "tlsSkipVerify"),
    ({"jsonData": {}}, "tlsAuthWithCACert is not true"),
    ({"secureJsonData": {"tlsCACert": "-----BEGIN CERTIFICATE-----"}}, "not a $__file{} reference"),
])
def test_the_datasource_check_catches_an_unverified_datasource(mutation, problem):
    good = {"name": "Loki", "url": "https://loki-read.monitoring.svc.cluster.local:3100",
            "jsonData": {"tlsAuthWithCACert": True}, "secureJsonData": {"tlsCACert": f"$__file{{{CA_FILE}}}"}}
    assert datasource_problems(good) == []
    assert any(problem in p for p in datasource_problems({**good, **mutation}))


# --- OTeBPF -----------------------------------------------------------------------------------------------

def otebpf_problems(config: dict, pod: Client) -> list[str]:
    """OBI verifies against Go's system roots (it has no CA key): the file and the only directory Go reads
    them from (SSL_CERT_FILE, SSL_CERT_DIR) must hold the pod's CA and nothing of the image's bundle."""
    export = config.get("otel_traces_export", {})
    problems = [] if str(export.get("endpoint", "")).startswith("https://") else ["traces endpoint is not https"]
    if export.get("insecure_skip_verify"):
        problems.append("insecure_skip_verify")
    env = {e["name"]: e.get("value") for e in pod.container.get("env", [])}
    if env.get("SSL_CERT_FILE") != CA_FILE:
        problems.append("SSL_CERT_FILE is not the pod's CA file")
    in_dir = [m for m in pod.container.get("volumeMounts", [])
              if env.get("SSL_CERT_DIR") and m["mountPath"].startswith(env["SSL_CERT_DIR"] + "/")]
    if [(m["name"], m.get("subPath")) for m in in_dir] != [("tls", "ca.crt")]:
        problems.append("SSL_CERT_DIR does not hold exactly the pod's ca.crt")
    return problems


def test_otebpf_exports_traces_to_tempo_over_verified_tls(rendered):
    _, objects = rendered
    otebpf = _pod(objects, "DaemonSet", "otebpf")
    [config_map] = _of(objects, "ConfigMap", "otebpf-config")
    config = yaml.safe_load(config_map["data"]["config.yaml"])
    assert otebpf_problems(config, otebpf) == []
    assert own_secret_problems(objects, otebpf, CA_FILE) == []
    assert STACK_HOST.match(re.match(r"https://([^:/]+)", config["otel_traces_export"]["endpoint"]).group(1))
    # the check is real: without the variables Go would trust the image's public bundle instead
    bare = Client(otebpf.owner, otebpf.namespace, otebpf.spec, {**otebpf.container, "env": []})
    assert otebpf_problems(config, bare) == ["SSL_CERT_FILE is not the pod's CA file",
                                             "SSL_CERT_DIR does not hold exactly the pod's ca.crt"]
    config["otel_traces_export"]["insecure_skip_verify"] = True
    assert "insecure_skip_verify" in otebpf_problems(config, otebpf)


# --- the sidecar and the renewal window -------------------------------------------------------------------

@pytest.mark.parametrize("overlay", ["hospital-elk", "large"])
def test_the_sidecars_certificate_is_its_own_in_the_app_namespace(overlay):
    objects = _sidecar_objects(overlay)
    [certificate] = _of(objects, "Certificate")
    [config_map] = _of(objects, "ConfigMap")
    assert certificate["metadata"]["namespace"] == config_map["metadata"]["namespace"] == "openemr"
    assert certificate["spec"]["issuerRef"]["kind"] == "ClusterIssuer"  # one CA for the stack and the app
    kustomization = yaml.safe_load((DIST / overlay / "openemr-sidecar" / "kustomization.yaml").read_text())
    assert set(kustomization["resources"]) == {p.name for p in (DIST / overlay / "openemr-sidecar").glob("*.yaml")
                                                 if p.name != "kustomization.yaml"}


def test_a_renewal_window_within_the_node_lifetime_is_refused(tmp_path: Path):
    """Fluent Bit and OTeBPF read their files at start; Auto Mode's node expiry (21 days) restarts them, which
    is soon enough only if cert-manager renews more than 21 days before expiry."""
    overlays = tmp_path / "overlays"
    overlays.mkdir()
    (overlays / "short.yaml").write_text("tls: {duration: 1440h, renew_before: 480h}\n")
    result = run_main("--overlays", str(overlays), "--dist", str(tmp_path / "dist"))
    assert result.returncode != 0
    assert "tls.renew_before" in result.stderr and "504h" in result.stderr and not (tmp_path / "dist").exists()


# --- Go's system roots, with a real Go binary -------------------------------------------------------------

def _certificate(subject: str, issuer=None, names=()):
    """A throwaway ECDSA certificate: a CA when `issuer` is None, else a leaf for `names` signed by it."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    issuer_cert, issuer_key = issuer or (None, key)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (x509.CertificateBuilder().subject_name(name).public_key(key.public_key())
               .issuer_name(issuer_cert.subject if issuer_cert else name).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=1)).not_valid_after(now + datetime.timedelta(hours=1))
               .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()), key


def _pem(cert=None, key=None) -> bytes:
    from cryptography.hazmat.primitives import serialization
    if cert is not None:
        return cert.public_bytes(serialization.Encoding.PEM)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool (Debian package prometheus) is not installed")
def test_a_go_client_without_a_ca_of_its_own_trusts_exactly_ssl_cert_file_and_checks_the_name(tmp_path):
    """What OTeBPF's export relies on, with a real Go binary (promtool, which like OBI's exporter configures
    no CA): it verifies a server against the roots in SSL_CERT_FILE / SSL_CERT_DIR, refuses one signed by
    another CA, and refuses a name the certificate does not carry. Server on 127.0.0.1, stopped after."""
    import http.server
    import ssl
    import threading

    ca, ca_key = _certificate("stack CA")
    other_ca, _ = _certificate("another CA")
    leaf, leaf_key = _certificate("tempo", (ca, ca_key), names=("localhost",))
    (tmp_path / "ca.crt").write_bytes(_pem(ca))
    (tmp_path / "other.crt").write_bytes(_pem(other_ca))
    (tmp_path / "tls.crt").write_bytes(_pem(leaf))
    (tmp_path / "tls.key").write_bytes(_pem(key=leaf_key))
    for name in ("ca", "other"):
        (tmp_path / f"{name}-roots").mkdir()
        (tmp_path / f"{name}-roots" / "ca.crt").write_bytes((tmp_path / f"{name}.crt").read_bytes())

    class Api(http.server.BaseHTTPRequestHandler):
        def _answer(self):
            body = b'{"status":"success","data":{"resultType":"vector","result":[]}}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]

    def query(host: str, roots: str) -> subprocess.CompletedProcess:
        env = {"PATH": os.environ["PATH"], "SSL_CERT_FILE": str(tmp_path / f"{roots}.crt"),
               "SSL_CERT_DIR": str(tmp_path / f"{roots}-roots")}
        return subprocess.run(["promtool", "query", "instant", f"https://{host}:{port}", "up"], env=env,
                              capture_output=True, text=True, timeout=60)
    try:
        trusted = query("localhost", "ca")
        assert trusted.returncode == 0, trusted.stderr
        wrong_ca = query("localhost", "other")
        assert wrong_ca.returncode != 0 and "certificate signed by unknown authority" in wrong_ca.stderr
        wrong_name = query("127.0.0.1", "ca")
        assert wrong_name.returncode != 0 and "127.0.0.1" in wrong_name.stderr and "SAN" in wrong_name.stderr
    finally:
        server.shutdown()
        server.server_close()
