"""TLS inside the cluster, written once: each component's serving certificate, where its pods find it,
and the names its clients use.

cert-manager issues one Certificate per component (`<component>-tls`), signed by the stack's CA
(components/tls.py: a self-signed root and a CA ClusterIssuer) or by the user's ClusterIssuer
(`tls.cluster_issuer`). cert-manager writes `tls.crt`, `tls.key` and `ca.crt` (the issuing CA) into
the Secret; every pod mounts its own Secret read-only at MOUNT_PATH and verifies its peers with the
`ca.crt` there, so no pod mounts another component's private key and nothing secret is in dist/.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cdk8s_plus_37.k8s as k
import yaml
from pydantic import Field, model_validator

from constructs import Construct
from stackgen.components.platform.nodes import MAX_LIFETIME_HOURS
from stackgen.lib.meta import Identity
from stackgen.lib.plain import custom_resource
from stackgen.settings import DnsLabel, Model, duration_seconds

if TYPE_CHECKING:
    from stackgen.config import StackConfig

CERTIFICATE_API = "cert-manager.io/v1"
MOUNT_PATH = "/etc/tls"
VOLUME = "tls"
CERT_FILE, KEY_FILE, CA_FILE = (f"{MOUNT_PATH}/{name}" for name in ("tls.crt", "tls.key", "ca.crt"))
CLUSTER_DOMAIN = "cluster.local"
# exporter-toolkit's web configuration (node-exporter, kube-state-metrics), mounted from a ConfigMap.
WEB_CONFIG_DIR, WEB_CONFIG_VOLUME = "/etc/web-config", "web-config"
WEB_CONFIG_FILE = f"{WEB_CONFIG_DIR}/web-config.yml"
GO_DURATION = r"^([0-9]+h)?([0-9]+m)?([0-9]+s)?$"
# EKS Auto Mode replaces every node within 21 days (components/platform/nodes.py), so no pod lives longer.
# What reads its certificate only at start (Fluent Bit, OTeBPF, and Loki's, Tempo's and Mimir's memberlist
# listener: dskit kv/memberlist/tcp_transport.go, tls.Listen with crypto/tls's Certificates, read once) is
# rolled by that: renewing more than 21 days before expiry means the certificate a pod holds never expires
# under it.
NODE_LIFETIME = f"{MAX_LIFETIME_HOURS}h"


class TlsConfig(Model):
    # The user's ClusterIssuer (e.g. one backed by AWS Private CA); empty: the stack's own CA.
    cluster_issuer: str = ""
    # Leaf certificates: cert-manager renews each `renew_before` its expiry (defaults: 90 days, renewed
    # 30 days ahead, so a stalled cert-manager leaves weeks: rules/certificates.py alerts a week later).
    duration: str = Field("2160h", pattern=GO_DURATION)
    renew_before: str = Field("720h", pattern=GO_DURATION)
    # The stack's own root CA (ignored with cluster_issuer): ten years; its Secret lives in cert-manager's
    # cluster resource namespace (`ca_namespace`, the chart's default: cert-manager's own namespace).
    ca_duration: str = Field("87600h", pattern=GO_DURATION)
    ca_namespace: DnsLabel = "cert-manager"

    @model_validator(mode="after")
    def _renewed_before_expiry(self) -> "TlsConfig":
        if duration_seconds(self.renew_before) >= duration_seconds(self.duration):
            raise ValueError(f"renew_before={self.renew_before} must be shorter than duration={self.duration} "
                             "(cert-manager renews that long before expiry)")
        if duration_seconds(self.renew_before) <= duration_seconds(NODE_LIFETIME):
            raise ValueError(f"renew_before={self.renew_before} must exceed {NODE_LIFETIME}: components that read "
                             "their certificate only at start rely on Auto Mode replacing every node (and its "
                             "pods) within 21 days, before the certificate they hold expires")
        return self


def issuer_name(stack: StackConfig) -> str:
    return stack.tls.cluster_issuer or f"{stack.namespace}-ca"


def service_names(service: str, namespace: str) -> list[str]:
    """Every name a client may use for a Service (short, namespaced, fully qualified)."""
    return [service, f"{service}.{namespace}", f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.{CLUSTER_DOMAIN}"]


def server_name(service: str, namespace: str) -> str:
    """The name a client verifies when it dials a pod's IP (scrapes, alerts, peers): the Service's `.svc`
    name, one of service_names()."""
    return f"{service}.{namespace}.svc"


def member_names(headless_service: str, namespace: str) -> list[str]:
    """A StatefulSet's members behind its headless Service (`<pod>.<service>.<namespace>.svc`), by wildcard:
    memberlist and the rings' gRPC clients dial members by these names."""
    return [f"*.{headless_service}.{namespace}.svc", f"*.{headless_service}.{namespace}.svc.{CLUSTER_DOMAIN}"]


def client_names(identity: Identity) -> list[str]:
    """The name in the certificate of a pod that only dials others (it serves nothing): its identity."""
    return [f"{identity.name}.{identity.namespace}.svc"]


def https_url(service: str, namespace: str, port: int, path: str = "") -> str:
    """A client's address of a Service over TLS, by the fully qualified name its certificate carries."""
    return f"https://{service}.{namespace}.svc.{CLUSTER_DOMAIN}:{port}{path}"


def secret_name(identity: Identity) -> str:
    return f"{identity.name}-tls"


@dataclass(frozen=True)
class ServingCertificate:
    """A component's certificate, the Secret cert-manager keeps it in, and the names it covers."""
    secret: str
    dns_names: tuple[str, ...]

    def volume(self) -> k.Volume:
        return k.Volume(name=VOLUME, secret=k.SecretVolumeSource(secret_name=self.secret))

    def mount(self) -> k.VolumeMount:
        return k.VolumeMount(name=VOLUME, mount_path=MOUNT_PATH, read_only=True)


def certificate(scope: Construct, stack: StackConfig, identity: Identity, dns_names: list[str], *,
                name: str | None = None) -> ServingCertificate:
    """A serving certificate for `identity` (server and client usages: the same pods dial their peers)."""
    secret = name or secret_name(identity)
    names = tuple(dict.fromkeys(dns_names))
    custom_resource(scope, f"certificate-{secret}", CERTIFICATE_API, "Certificate", {
        "name": secret, "namespace": identity.namespace, "labels": identity.labels}, {
        "secretName": secret, "secretTemplate": {"labels": identity.labels},
        "duration": stack.tls.duration, "renewBefore": stack.tls.renew_before,
        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        "usages": ["server auth", "client auth", "digital signature"],
        "dnsNames": list(names),
        "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": issuer_name(stack)}})
    return ServingCertificate(secret, names)


def exporter_web_config() -> dict:
    """exporter-toolkit's web config file (docs/web-configuration.md): HTTPS with the mounted certificate,
    TLS 1.2 minimum (Go negotiates 1.3 with every client in the cluster). exporter-toolkit re-reads this file
    and the certificate files on each new connection (web/tls_config.go, GetConfigForClient and
    GetCertificate), so a renewed certificate is served without a restart."""
    return {"tls_server_config": {"cert_file": CERT_FILE, "key_file": KEY_FILE, "min_version": "TLS12"}}


@dataclass(frozen=True)
class WebConfigFile:
    """The ConfigMap holding exporter_web_config(), and where a container finds it (WEB_CONFIG_FILE)."""
    config_map: str

    def volume(self) -> k.Volume:
        return k.Volume(name=WEB_CONFIG_VOLUME, config_map=k.ConfigMapVolumeSource(name=self.config_map))

    def mount(self) -> k.VolumeMount:
        return k.VolumeMount(name=WEB_CONFIG_VOLUME, mount_path=WEB_CONFIG_DIR, read_only=True)


def web_config_file(scope: Construct, identity: Identity) -> WebConfigFile:
    name = f"{identity.name}-web-config"
    k.KubeConfigMap(scope, "web-config", metadata=identity.meta(name),
                    data={WEB_CONFIG_FILE.rsplit("/", 1)[1]: yaml.safe_dump(exporter_web_config(), sort_keys=False)})
    return WebConfigFile(name)


def secret_producers(certificates: list[dict]) -> dict[tuple[str, str], list[tuple[str, set[str]]]]:
    """(namespace, Secret) -> [(Certificate, keys)]: cert-manager writes each Certificate's Secret."""
    return {(c["metadata"]["namespace"], c["spec"]["secretName"]): [
        (f"Certificate/{c['metadata']['namespace']}/{c['metadata']['name']}", {"tls.crt", "tls.key", "ca.crt"})]
        for c in certificates}
