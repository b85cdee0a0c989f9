"""The shape Loki, Tempo and Mimir share, written once.

One binary, one configuration file, several targets (`-target=...`): a single process (`all`) or the
scalable roles. Members of a backend find each other through memberlist on a headless Service, read
and write S3 under one IRSA ServiceAccount, keep WAL and local data on the encrypted StorageClass and
talk to each other over gRPC. Stateless targets scale by HPA within the backend's replica range;
stateful ones (ring members with a volume) scale by configuration, run one per node and evenly over the
zones, and get a PDB that lets one member go at a time.

TLS: one certificate per backend (`<backend>-tls`) serves the HTTP and gRPC servers and memberlist of
every member and is its client certificate towards its peers (gRPC requires it; see `server_tls`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cdk8s_plus_37.k8s as k
import yaml

from constructs import Construct
from stackgen import forms
from stackgen.context import Context
from stackgen.lib.monitors import Endpoint, ScrapeTls, service_monitor
from stackgen.lib.netpol import Peer, Policy, aws_endpoints, component_policy, external, rule
from stackgen.lib.scaling import ScaleTarget, disruption_budget, replicas_and_scaling
from stackgen.lib.workload import (
    ContainerSpec,
    HttpProbe,
    PodSpec,
    Port,
    checksum,
    deployment,
    empty_dir,
    service,
    service_account,
    stateful_set,
)
from stackgen.lib.tls import (
    CA_FILE,
    CERT_FILE,
    CLUSTER_DOMAIN,
    KEY_FILE,
    ServingCertificate,
    certificate,
    https_url,
    member_names,
    service_names,
)
from stackgen.settings import Resources
from stackgen.versions import Image

GRPC = Port("grpc", 9095)
# TCP only: dskit's memberlist transport carries gossip "packets" over TCP too and opens no UDP socket
# (grafana/dskit kv/memberlist/tcp_transport.go, TCPTransport), so with TLS every byte of it is encrypted.
GOSSIP_TCP = Port("memberlist", 7946)
HTTPS = Port("https", 443)
RING_LABEL = "monitoring.openemr.io/ring"
UID = 10001
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
NO_LIVENESS = ("as upstream (Loki and mimir-distributed charts, Tempo jsonnet) no liveness probe: /ready waits for "
               "the ring and peers and must not restart a pod that is still joining")


def irsa(role_arn: str) -> dict[str, str]:
    """A ServiceAccount's IRSA annotations. The regional STS endpoint ("Configure the AWS Security Token Service
    endpoint for a service account": the webhook then sets AWS_STS_REGIONAL_ENDPOINTS=regional), so that every
    SDK exchanges the token at sts.<region>.amazonaws.com, the one name the egress policies allow."""
    return {IRSA_ANNOTATION: role_arn, "eks.amazonaws.com/sts-regional-endpoints": "true"}


def memberlist_service(backend: str) -> str:
    return f"{backend}-memberlist"


# Every member of every backend joins the gossip ring the same way.
MEMBERLIST_FORMS = {"memberlist.join_members[]": forms.DNS_DISCOVERY}


def join_members(backend: str, namespace: str) -> list[str]:
    return [f"dns+{memberlist_service(backend)}.{namespace}.svc.cluster.local:{GOSSIP_TCP.number}"]


def service_url(name: str, namespace: str, port: Port, path: str = "") -> str:
    """A stack Service's URL: every HTTP server of the stack is HTTPS (issue 23)."""
    return https_url(name, namespace, port.number, path)


def members_server_name(backend: str, namespace: str) -> str:
    """The name a member verifies on its peers' certificate. Ring members advertise their pod IP (dskit
    ring.GetInstanceAddr: the first address of the pod's interfaces), memberlist dials the IPs its
    `dns+` join address resolves to, and a single process's querier dials 127.0.0.1 (Tempo) or the ring's
    address: no certificate holds those, so every member client sets `tls_server_name` to the backend's
    headless Service, which the backend's one certificate covers and which names exactly its members."""
    return f"{memberlist_service(backend)}.{namespace}.svc.{CLUSTER_DOMAIN}"


# dskit's server (grafana/dskit server/tls_config.go: Go's names, comma-separated, no spaces) and clients
# (crypto/tls ClientConfig: VersionTLS12|VersionTLS13). TLS 1.2 suites with forward secrecy and AEAD for
# the ECDSA keys lib/tls.py issues; TLS 1.3 (which Go negotiates first) has no configurable suites.
CIPHER_SUITES = ",".join(["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                          "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"])
SERVER_MIN_VERSION = "VersionTLS12"  # its HTTP clients include Fluent Bit and the agents
MEMBER_MIN_VERSION = "VersionTLS13"  # member to member: the same Go binary at both ends


def server_tls() -> dict:
    """The `server` block's TLS (dskit server.Config, exporter-toolkit web.ConfigToTLSConfig). The gRPC
    port only serves the backend's own members, so it requires their client certificate; the HTTP port
    also serves Grafana, Prometheus and the shippers, which verify it but present none."""
    own = {"cert_file": CERT_FILE, "key_file": KEY_FILE}
    return {"tls_min_version": SERVER_MIN_VERSION, "tls_cipher_suites": CIPHER_SUITES, "http_tls_config": own,
            "grpc_tls_config": {**own, "client_auth_type": "RequireAndVerifyClientCert", "client_ca_file": CA_FILE}}


def member_client_tls(backend: str, namespace: str) -> dict:
    """A dskit client block (grpcclient.Config, memberlist KVConfig, Loki's compactor HTTP client): TLS
    to a peer of the same backend, verified against the CA for `members_server_name`, with this pod's
    certificate as the client certificate the gRPC server requires."""
    return {"tls_enabled": True, "tls_ca_path": CA_FILE, "tls_cert_path": CERT_FILE, "tls_key_path": KEY_FILE,
            "tls_server_name": members_server_name(backend, namespace), "tls_insecure_skip_verify": False,
            "tls_min_version": MEMBER_MIN_VERSION}


def with_member_tls(config: dict, backend: str, namespace: str, clients: tuple[str, ...]) -> dict:
    """`config` with TLS on its servers, memberlist and each client block at the dotted paths `clients`."""
    config.setdefault("server", {}).update(server_tls())
    config.setdefault("memberlist", {}).update(member_client_tls(backend, namespace))
    for path in clients:
        node = config
        for key in path.split("."):
            node = node.setdefault(key, {})
        node.update(member_client_tls(backend, namespace))
    return config


@dataclass(frozen=True)
class Target:
    """One role of the binary. `volume` makes it a stateful ring member (StatefulSet, fixed replicas)."""
    role: str
    resources: Resources
    replicas: int = 1
    autoscaled: bool = False
    volume: bool = False
    extra_ports: tuple[Port, ...] = ()
    # Clients outside the backend that may call this target, and on which ports.
    clients: tuple[tuple[Peer, tuple[Port, ...]], ...] = ()
    # Destinations outside the backend that this target calls.
    calls: tuple[tuple[Peer, tuple[Port, ...]], ...] = ()
    # A headless Service so that workers can connect to every replica (Tempo's query-frontend).
    discovery: bool = False
    # Seconds to flush or leave the ring on SIGTERM: each upstream chart's terminationGracePeriodSeconds.
    grace_seconds: int | None = None


@dataclass
class BackendSpec:
    name: str
    component: str
    image: Image
    http: Port
    config: dict
    data_dir: str
    role_arn: str
    volume_size: str
    targets: list[Target] = field(default_factory=list)

    def workload_name(self, target: Target) -> str:
        return self.name if target.role == "all" else f"{self.name}-{target.role}"


def config_text(config: dict) -> str:
    return yaml.dump(config, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=True, width=120)


def certificate_names(spec: BackendSpec, namespace: str) -> list[str]:
    """Every name the backend is dialled by: each target's Service (Grafana, Prometheus' remote write, the
    shippers, OTLP senders), the discovery Services (Tempo's queriers resolve the query-frontends'), and
    the headless memberlist Service with its members' pod names (`members_server_name`)."""
    services = [spec.workload_name(t) for t in spec.targets]
    services += [f"{spec.workload_name(t)}-discovery" for t in spec.targets if t.discovery]
    gossip = memberlist_service(spec.name)
    return [name for s in (*services, gossip) for name in service_names(s, namespace)] + member_names(gossip, namespace)


class Backend(Construct):
    def __init__(self, scope: Construct, ctx: Context, spec: BackendSpec):
        super().__init__(scope, spec.name)
        base = ctx.identity(spec.name, spec.component, spec.image)
        config_map = f"{spec.name}-config"
        text = config_text(spec.config)
        k.KubeConfigMap(self, "config", metadata=base.meta(config_map), data={"config.yaml": text})
        service_account(self, base, annotations=irsa(spec.role_arn))
        ring = {RING_LABEL: spec.name}
        # Its own identity: monitors of the component must not select the gossip Service.
        gossip = ctx.identity(memberlist_service(spec.name), f"{spec.component}-memberlist", spec.image)
        service(self, gossip, [GOSSIP_TCP, GRPC], selector=ring, headless=True)
        cert = certificate(self, ctx.config, base, certificate_names(spec, ctx.namespace))
        members = Peer(pod_labels=tuple(ring.items()), namespace=ctx.namespace)
        for target in spec.targets:
            self._target(Construct(self, target.role), ctx, spec, target, config_map, checksum(text), members, cert)

    def _target(self, scope: Construct, ctx: Context, spec: BackendSpec, target: Target, config_map: str,
                config_checksum: str, members: Peer, cert: ServingCertificate) -> None:
        identity = ctx.identity(spec.workload_name(target), f"{spec.component}-{target.role}", spec.image)
        ports = [spec.http, GRPC, GOSSIP_TCP, *target.extra_ports]
        container = ContainerSpec(
            name=spec.name, image=spec.image.ref, resources=target.resources,
            ports=ports,
            args=["-config.file=/etc/config/config.yaml", f"-target={target.role}"],
            # minio-go (Tempo's and Mimir's S3 client) exchanges the IRSA token at sts.<AWS_REGION>.amazonaws.com,
            # and at the global sts.amazonaws.com when the variable is unset (pkg/credentials/iam_aws.go): set it
            # rather than rely on the EKS webhook, so the one STS name the egress policy allows is the one used.
            env=[k.EnvVar(name="AWS_REGION", value=ctx.config.aws.region)],
            mounts=[k.VolumeMount(name="config", mount_path="/etc/config", read_only=True),
                    k.VolumeMount(name="data", mount_path=spec.data_dir),
                    k.VolumeMount(name="tmp", mount_path="/tmp"), cert.mount()],
            # /ready waits for the ring, WAL replay and peers (a query-frontend for its first querier, Loki's
            # read path for a scheduler, a compactor for a stable ring): it must never restart a pod. No
            # liveness probe, as upstream renders none: Loki's chart (`livenessProbe: {}`), mimir-distributed
            # and Tempo's jsonnet; Tempo's Helm chart's liveness on /ready is what restarts slow starters.
            readiness=HttpProbe("/ready", spec.http.name, scheme="HTTPS"), liveness=None, no_liveness=NO_LIVENESS)
        volumes = [k.Volume(name="config", config_map=k.ConfigMapVolumeSource(name=config_map)), empty_dir("tmp"),
                   cert.volume()]
        if not target.volume:
            volumes.append(empty_dir("data", "2Gi"))
        pod = PodSpec(
            identity, [container], uid=UID, fs_group=UID, volumes=volumes, service_account=spec.name,
            extra_labels={RING_LABEL: spec.name}, may_scale_out=target.autoscaled or target.replicas > 1,
            ring_member=target.volume and target.replicas > 1, grace_seconds=target.grace_seconds,
            annotations={"checksum/config": config_checksum})
        if target.volume:
            stateful_set(scope, pod, replicas=target.replicas, service_name=memberlist_service(spec.name),
                         claim_name="data", claim_size=spec.volume_size,
                         storage_class=ctx.config.storage.class_name)
            if target.replicas > 1:
                disruption_budget(scope, identity, identity.selector)
        else:
            replicas = target.replicas
            if target.autoscaled:
                replicas = replicas_and_scaling(scope, identity, ScaleTarget("apps/v1", "Deployment", identity.name),
                                                spec.name, ctx.config.autoscaling, identity.selector)
            elif replicas > 1:
                disruption_budget(scope, identity, identity.selector)
            deployment(scope, pod, replicas=replicas)
        service(scope, identity, [spec.http, GRPC, *target.extra_ports])
        if target.discovery:
            discovery = ctx.identity(f"{identity.name}-discovery", f"{identity.component}-discovery", spec.image)
            service(scope, discovery, [GRPC], selector=identity.selector, headless=True)
        # Prometheus dials the pod's IP: it verifies the name of the target's own Service instead.
        service_monitor(scope, identity, [Endpoint(spec.http.name, tls=ScrapeTls(
            cert.secret, f"{identity.name}.{ctx.namespace}.svc.{CLUSTER_DOMAIN}"))])
        ctx.scraped(identity, [spec.http])
        own = [spec.http, GRPC, GOSSIP_TCP]
        component_policy(scope, identity, Policy(
            ingress=[rule([members], own), rule([ctx.pods_of("prometheus")], [spec.http]),
                     *[rule([peer], list(p)) for peer, p in target.clients]],
            egress=[rule([members], own),
                    # S3 (virtual-hosted bucket names: the SDKs' default for AWS endpoints) and STS (IRSA).
                    *external(ctx.config.network.egress_mode, aws_endpoints(ctx.config.aws.region, "s3", "sts"),
                              [HTTPS]),
                    *[rule([peer], list(p)) for peer, p in target.calls]]))
