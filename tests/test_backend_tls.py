"""Loki, Tempo and Mimir speak TLS on every listener and verify every peer, as rendered: servers (HTTP,
gRPC, memberlist, Tempo's OTLP receivers) on the backend's certificate, every client of a member with the
CA and a server name that certificate covers, and every TLS key in the pinned versions' key trees."""
from __future__ import annotations

import re

import pytest
import yaml
from conftest import DIST, OVERLAYS, run_main
from stackgen.checks.config_keys import KEY_TREES, config_key_problems, key_tree
from stackgen.validate import load_tree

BACKENDS = sorted(KEY_TREES)
MOUNT = "/etc/tls"
CA, CERT, KEY = f"{MOUNT}/ca.crt", f"{MOUNT}/tls.crt", f"{MOUNT}/tls.key"
# Client blocks of the key trees whose server is not a member of the backend (a KV store, a cache, a cloud
# index, Kafka, the stack's Alertmanager for the ruler's notifications): not configured here at all.
OUTSIDE = re.compile(r"etcd|consul|memcached|redis|bigtable|kafka|alertmanager_client_config|ruler\.alertmanager_client")
# Loki's old querier worker block, which it refuses beside the two that replace it (set instead).
REPLACED = {"loki": {"frontend_worker.grpc_client_config"}}


def _objects(overlay: str, kind: str) -> list[dict]:
    return [o for o in load_tree(DIST / overlay) if o["kind"] == kind]


def config_of(overlay: str, backend: str) -> dict:
    config_map = next(o for o in _objects(overlay, "ConfigMap") if o["metadata"]["name"] == f"{backend}-config")
    return yaml.safe_load(config_map["data"]["config.yaml"])


def certificate_of(overlay: str, backend: str) -> dict:
    return next(c for c in _objects(overlay, "Certificate") if c["metadata"]["name"] == f"{backend}-tls")


def covers(dns_names: list[str], name: str) -> bool:
    """A certificate name covers `name` (a wildcard stands for exactly one DNS label)."""
    return any(n == name or (n.startswith("*.") and "." in name and name.split(".", 1)[1] == n[2:])
               for n in dns_names)


def client_blocks(node, path: str = ""):
    """(dotted path, block) of every dskit client block (one with `tls_enabled`) in a configuration."""
    if isinstance(node, dict):
        if "tls_enabled" in node:
            yield path, node
        for key, value in node.items():
            yield from client_blocks(value, f"{path}.{key}" if path else key)


def client_problems(config: dict, dns_names: list[str]) -> list[str]:
    """What is wrong with the backend's member clients: plain, unverified, or verifying a name the
    backend's certificate does not carry (ring members and memberlist peers are dialled by IP)."""
    problems = []
    for path, block in client_blocks(config):
        if block.get("tls_enabled") is not True or block.get("tls_ca_path") != CA:
            problems.append(f"{path}: not TLS verified against {CA}")
        if block.get("tls_insecure_skip_verify", False) is not False:
            problems.append(f"{path}: verification off")
        if not covers(dns_names, block.get("tls_server_name", "")):
            problems.append(f"{path}: server name {block.get('tls_server_name')!r} not in the certificate")
        if (block.get("tls_cert_path"), block.get("tls_key_path")) != (CERT, KEY):
            problems.append(f"{path}: no client certificate (the gRPC servers require one)")
        if block.get("tls_min_version") not in ("VersionTLS12", "VersionTLS13"):
            problems.append(f"{path}: minimum version {block.get('tls_min_version')!r}")
    return problems


def tree_client_paths(node, path: str = "") -> set[str]:
    """Dotted paths of every client block the key tree knows (a node with `tls_enabled`)."""
    if not isinstance(node, dict):
        return set()
    found = {path} if "tls_enabled" in node else set()
    for key, value in node.items():
        if key != "__meta__":
            found |= tree_client_paths(value, f"{path}.{key}" if path else key)
    return found


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_http_and_grpc_servers_serve_the_mounted_certificate(overlay, backend):
    server = config_of(overlay, backend)["server"]
    assert server["http_tls_config"] == {"cert_file": CERT, "key_file": KEY}
    # the gRPC port only has the backend's members as clients: it requires their certificate
    assert server["grpc_tls_config"] == {"cert_file": CERT, "key_file": KEY, "client_ca_file": CA,
                                         "client_auth_type": "RequireAndVerifyClientCert"}
    assert server["tls_min_version"] in ("VersionTLS12", "VersionTLS13")
    assert all(suite.startswith("TLS_ECDHE_ECDSA_WITH_") for suite in server["tls_cipher_suites"].split(","))
    secret = certificate_of(overlay, backend)["spec"]["secretName"]
    pods = [w for w in _objects(overlay, "Deployment") + _objects(overlay, "StatefulSet")
            if w["metadata"]["name"].split("-")[0] == backend]
    assert pods
    for workload in pods:
        spec = workload["spec"]["template"]["spec"]
        volume = next(v["name"] for v in spec["volumes"] if v.get("secret", {}).get("secretName") == secret)
        container = spec["containers"][0]
        assert {"name": volume, "mountPath": MOUNT, "readOnly": True} in container["volumeMounts"]
        assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_tempos_otlp_receivers_are_tls(overlay):
    protocols = config_of(overlay, "tempo")["distributor"]["receivers"]["otlp"]["protocols"]
    for protocol in ("grpc", "http"):
        tls = protocols[protocol]["tls"]
        assert (tls["cert_file"], tls["key_file"]) == (CERT, KEY)
        assert tls["min_version"] in ("1.2", "1.3") and tls["reload_interval"]


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_member_client_verifies_a_name_the_certificate_covers(overlay, backend):
    config, names = config_of(overlay, backend), certificate_of(overlay, backend)["spec"]["dnsNames"]
    assert client_problems(config, names) == []
    assert config["memberlist"]["tls_enabled"] is True  # memberlist's listener serves tls_cert_path
    # no client the pinned version has towards its own members is left out (and so plain)
    wanted = {p for p in tree_client_paths(key_tree(backend)) if not OUTSIDE.search(p)} - REPLACED.get(backend, set())
    assert wanted - {path for path, _ in client_blocks(config)} == set()


def test_a_client_that_does_not_verify_the_certificates_name_is_found():
    config, names = config_of("hospital", "mimir"), certificate_of("hospital", "mimir")["spec"]["dnsNames"]
    for mutation, expected in [({"tls_server_name": ""}, "server name ''"),  # the peer's IP would be verified
                               ({"tls_server_name": "mimir-ingester.monitoring.svc.cluster.local.evil"}, "server name"),
                               ({"tls_insecure_skip_verify": True}, "verification off"),
                               ({"tls_enabled": False}, "not TLS")]:
        mutated = {**config, "ingester_client": {"grpc_client_config": {
            **config["ingester_client"]["grpc_client_config"], **mutation}}}
        assert any(expected in p for p in client_problems(mutated, names)), mutation


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_certificate_names_every_service_and_member_of_the_backend(overlay, backend):
    names = certificate_of(overlay, backend)["spec"]["dnsNames"]
    services = [s["metadata"]["name"] for s in _objects(overlay, "Service")
                if s["metadata"]["name"].split("-")[0] == backend]
    for service in services:
        assert covers(names, f"{service}.monitoring.svc.cluster.local") and covers(names, f"{service}.monitoring.svc")
    for member in _objects(overlay, "StatefulSet"):
        if member["metadata"]["name"].split("-")[0] == backend:
            pod = f"{member['metadata']['name']}-0.{member['spec']['serviceName']}.monitoring.svc.cluster.local"
            assert covers(names, pod)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_url_to_the_backends_is_https_to_a_name_their_certificate_covers(overlay):
    """Grafana's datasources, Prometheus' and Tempo's remote writes, the agents, Loki's compactor address."""
    text = "\n".join(yaml.safe_dump(o) for o in load_tree(DIST / overlay))
    urls = re.findall(r"\b(https?)://((loki|tempo|mimir)[a-z-]*\.monitoring\.svc\.cluster\.local):\d+", text)
    assert urls
    for scheme, host, backend in urls:
        assert scheme == "https", host
        assert covers(certificate_of(overlay, backend)["spec"]["dnsNames"], host), host


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_tempos_remote_write_to_mimir_verifies_with_the_ca(overlay):
    write = config_of(overlay, "tempo")["metrics_generator"]["storage"]["remote_write"][0]
    assert write["url"].startswith("https://")
    assert write["tls_config"]["ca_file"] == CA and write["tls_config"].get("insecure_skip_verify") is False


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_prometheus_scrapes_the_backends_over_verified_https(overlay, backend):
    secret = certificate_of(overlay, backend)["spec"]["secretName"]
    names = certificate_of(overlay, backend)["spec"]["dnsNames"]
    monitors = [m for m in _objects(overlay, "ServiceMonitor") if m["metadata"]["name"].split("-")[0] == backend]
    assert monitors
    for monitor in monitors:
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint["scheme"] == "https"
            assert endpoint["tlsConfig"]["ca"] == {"secret": {"name": secret, "key": "ca.crt"}}
            assert covers(names, endpoint["tlsConfig"]["serverName"])


def test_lokis_querier_worker_uses_only_the_new_client_blocks():
    """Loki refuses `grpc_client_config` beside `query_frontend_grpc_client`/`query_scheduler_grpc_client`
    (pkg/loki/config_wrapper.go, applyCommonQuerierWorkerGRPCConfig)."""
    for overlay in OVERLAYS:
        worker = config_of(overlay, "loki")["frontend_worker"]
        assert "grpc_client_config" not in worker
        assert {"query_frontend_grpc_client", "query_scheduler_grpc_client"} <= set(worker)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_tls_key_not_in_the_pinned_key_tree_is_refused(backend):
    config = config_of("hospital", backend)
    for mutated, key in [({**config, "server": {**config["server"], "http_tls_config": {"cert_path": CERT}}},
                          "server.http_tls_config.cert_path"),
                         ({**config, "memberlist": {**config["memberlist"], "tls_ca_file": CA}}, "memberlist.tls_ca_file"),
                         ({**config, "ingester_client": {"grpc_client_config": {"tls_verify": True}}},
                          "ingester_client.grpc_client_config.tls_verify")]:
        assert any(key in p for p in config_key_problems(backend, mutated)), key


def test_a_renewal_window_shorter_than_a_nodes_lifetime_is_refused(tmp_path):
    """memberlist keeps the certificate its process started with; every pod moves within 21 days."""
    overlays = tmp_path / "overlays"
    overlays.mkdir()
    (overlays / "short.yaml").write_text("tls: {duration: 2160h, renew_before: 480h}\n")
    result = run_main("--overlays", str(overlays), "--dist", str(tmp_path / "dist"))
    assert result.returncode != 0
    assert "tls.renew_before" in result.stderr and "504h" in result.stderr and not (tmp_path / "dist").exists()
