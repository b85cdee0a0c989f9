"""Throwaway certificates shaped like the rendered Certificates, an HTTPS client that verifies a server
name of its own choosing on 127.0.0.1, and the rendered TLS settings translated to the Debian binaries'
files (the certificate Secrets become directories, as their volumes are in the pods)."""
from __future__ import annotations

import datetime
import http.client
import json
import socket
import ssl
import subprocess
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

USAGES = {"server auth": ExtendedKeyUsageOID.SERVER_AUTH, "client auth": ExtendedKeyUsageOID.CLIENT_AUTH}


class Authority:
    """A CA issuing leaves into Secret-like directories (tls.crt, tls.key, ca.crt), as cert-manager does."""

    def __init__(self, name: str):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = _builder(self.name, self.name, self.key).add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(self.key, hashes.SHA256())

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, spec: dict, directory: Path) -> Path:
        """A leaf for a rendered Certificate's spec: its dnsNames, usages and key algorithm (ECDSA P-256)."""
        assert (spec["privateKey"]["algorithm"], spec["privateKey"]["size"]) == ("ECDSA", 256)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, spec["dnsNames"][0])])
        usages = [USAGES[u] for u in spec["usages"] if u in USAGES]
        leaf = (_builder(subject, self.name, key)
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in spec["dnsNames"]]), critical=False)
                .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
                .sign(self.key, hashes.SHA256()))
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "tls.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
        (directory / "tls.crt").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        (directory / "ca.crt").write_bytes(self.pem)
        return directory


def _builder(subject: x509.Name, issuer: x509.Name, key) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1)))


# --- a client that dials 127.0.0.1 and verifies the name the rendered client verifies ---------------------

class _Pinned(http.client.HTTPSConnection):
    def connect(self):
        self.sock = self._context.wrap_socket(socket.create_connection(("127.0.0.1", self.port), self.timeout),
                                              server_hostname=self.host)


def https_get(port: int, server_name: str, ca_file: Path, path: str) -> tuple[int, bytes]:
    context = ssl.create_default_context(cafile=str(ca_file))
    connection = _Pinned(server_name, port, context=context, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def https_json(port: int, server_name: str, ca_file: Path, path: str):
    status, body = https_get(port, server_name, ca_file, path)
    assert status == 200, body
    return json.loads(body)


def served_serial(port: int, server_name: str, ca_file: Path) -> int:
    """The serial number of the certificate a new TLS connection is served."""
    context = ssl.create_default_context(cafile=str(ca_file))
    with context.wrap_socket(socket.create_connection(("127.0.0.1", port), 5), server_hostname=server_name) as tls:
        return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True)).serial_number


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout: float, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if (result := condition()):
                return result
        except OSError:
            pass
        time.sleep(step)
    return None


def start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=log.open("w"), stderr=subprocess.STDOUT)


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


# --- the rendered settings, translated ----------------------------------------------------------------

def secret_file(secrets: Path, ref: dict) -> str:
    """A `{name, key}` Secret key reference, as the file the operator mounts (the Secret's directory here)."""
    return str(secrets / ref["name"] / ref["key"])


def operator_web_config(tls_config: dict, secrets: Path) -> dict:
    """The web config file the operator v0.93.0 generates from a WebTLSConfig (spec.web.tlsConfig, and the
    server half of spec.clusterTLS): pkg/webconfig/config.go, addTLSServerConfigToYaml, key by key."""
    server = {"cert_file": secret_file(secrets, tls_config["cert"]["secret"]),
              "key_file": secret_file(secrets, tls_config["keySecret"])}
    if "clientAuthType" in tls_config:
        server["client_auth_type"] = tls_config["clientAuthType"]
    if "client_ca" in tls_config:
        server["client_ca_file"] = secret_file(secrets, tls_config["client_ca"]["secret"])
    if "minVersion" in tls_config:
        server["min_version"] = tls_config["minVersion"]
    unknown = set(tls_config) - {"cert", "keySecret", "clientAuthType", "client_ca", "minVersion"}
    assert not unknown, f"translate {unknown} too"
    return {"tls_server_config": server}


def operator_cluster_tls_config(cluster_tls: dict, secrets: Path) -> dict:
    """The operator's --cluster.tls-config file from spec.clusterTLS (pkg/alertmanager/clustertlsconfig)."""
    client = cluster_tls["client"]
    unknown = set(client) - {"ca", "cert", "keySecret", "serverName"}
    assert not unknown, f"translate {unknown} too"
    return {**operator_web_config(cluster_tls["server"], secrets), "tls_client_config": {
        "key_file": secret_file(secrets, client["keySecret"]),
        "cert_file": secret_file(secrets, client["cert"]["secret"]),
        "ca_file": secret_file(secrets, client["ca"]["secret"]),
        "server_name": client["serverName"]}}


def prometheus_client_tls(endpoint: dict, secrets: Path) -> dict:
    """A ServiceMonitor endpoint's or an alerting/remote-write entry's scheme and tlsConfig, as the operator
    writes them into Prometheus' configuration (the CA key copied into its TLS assets: the same bytes)."""
    tls_config = endpoint["tlsConfig"]
    unknown = set(tls_config) - {"ca", "serverName"}
    assert not unknown, f"translate {unknown} too"
    return {"scheme": endpoint["scheme"].lower(), "tls_config": {
        "ca_file": secret_file(secrets, tls_config["ca"]["secret"]), "server_name": tls_config["serverName"]}}
