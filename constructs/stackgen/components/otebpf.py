"""OTeBPF (OpenTelemetry eBPF Instrumentation): traces and HTTP RED metrics of OpenEMR with no code change.

A DaemonSet attaches eBPF probes to the processes of the OpenEMR pods on its node (selected by namespace
and pod labels), exports their spans over OTLP/HTTP to Tempo, and serves `http_server_request_*`
metrics with Kubernetes attributes for Prometheus (PodMonitor). Keys are those of OBI's config schema.

Host access, each for a reason: hostPID (to see and attach to the OpenEMR processes on the node), uid 0
with exactly the capabilities of OBI's documented unprivileged mode (BPF, PERFMON: load eBPF programs
and attach probes; SYS_PTRACE, DAC_READ_SEARCH, CHECKPOINT_RESTORE: inspect other processes'
executables and memory maps; NET_RAW: socket filters), instead of `privileged: true`. SYS_ADMIN is not
needed: it serves Go context propagation only, and OpenEMR is PHP.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import cdk8s_plus_37.k8s as k
import yaml

from constructs import Construct
from stackgen import forms, versions
from stackgen.components import tempo
from stackgen.context import Context
from stackgen.lib import tls
from stackgen.lib.monitors import Endpoint, pod_monitor
from stackgen.lib.netpol import Policy, cidrs, component_policy, rule
from stackgen.lib.rbac import Grant, cluster_role
from stackgen.lib.workload import (
    ContainerSpec,
    HostAccess,
    HttpProbe,
    PodSpec,
    Port,
    checksum,
    daemon_set,
    empty_dir,
    service_account,
)
from stackgen.settings import Model, Resources, sized

if TYPE_CHECKING:  # the overlay's model imports every component's; this only annotates
    from stackgen.config import StackConfig


class OtebpfConfig(Model):
    """eBPF auto-instrumentation of the OpenEMR pods: traces to Tempo, HTTP RED metrics to Prometheus."""
    enabled: bool = True
    resources: Resources = sized("50m", "128Mi", "500m", "512Mi")


# Plain HTTP: OBI serves its Prometheus endpoints with a plain http.Server and no TLS setting (its
# PrometheusManager listenAndServe: "TODO: support TLS configuration"). They carry RED metrics, no payload.
METRICS = Port("metrics", 9400)
INTERNAL = Port("int-metrics", 9401)
# OBI uses the signal-specific endpoint as written (scheme, host and the /v1/traces path).
ADDRESS_FORMS = {"otel_traces_export.endpoint": forms.HTTP_URL}
KUBE_API = Port("https", 443)
CONFIG_DIR = "/etc/otebpf"
TRACES_PATH = "/v1/traces"
# EKS Auto Mode nodes enforce SELinux (Bottlerocket). No source says what OBI needs there: its docs list
# capabilities only, and no AWS agent on Auto Mode does what it does. Bottlerocket's policy keeps
# container_t from reading other containers' files (data_t, another MCS pair), and OBI opens each
# process's executable through /proc/<pid>/exe (its discover package, findExecElf: "it might be in the
# volume of another pod/container"). The only labels that lift that (spc_t/control_t,
# super_t) are a privilege well beyond its capabilities, so none is set until a node shows it is needed.
SELINUX = ("SELinux: the runtime's default container_t (no seLinuxOptions); unverified on Auto Mode, where "
           "Bottlerocket's policy may deny reading other containers' executables")
CAPABILITIES = ("BPF", "PERFMON", "SYS_PTRACE", "DAC_READ_SEARCH", "CHECKPOINT_RESTORE", "NET_RAW")
# Kubernetes metadata for the attributes: pods, their owners (ReplicaSet -> Deployment), services, nodes.
GRANTS = [Grant(("",), ("pods", "services", "nodes")), Grant(("apps",), ("replicasets",), ("list", "watch"))]


def traces_url(stack: StackConfig) -> str:
    # `otel_traces_export.endpoint` is the signal-specific endpoint: used as is, so it names /v1/traces.
    return tls.https_url(tempo.otlp_service(stack), stack.namespace, tempo.OTLP_HTTP.number, TRACES_PATH)


# OBI's traces exporter (the Collector's otlphttp exporter, pkg/export/otel/traces.go getTracesExporter) takes
# only `insecure_skip_verify` of TLS settings, no CA file, and does not read OTEL_EXPORTER_OTLP_CERTIFICATE (an
# SDK variable). With no CA file its TLS client verifies against Go's system roots, which Go reads from the file
# SSL_CERT_FILE and the directories SSL_CERT_DIR when set, instead of the image's bundle (crypto/x509
# root_unix.go loadSystemRoots): both hold only the pod's ca.crt (the directory by a subPath mount), so Tempo's
# name and the stack's CA are verified, TLS 1.2 at least (Go's client default). The Kubernetes client sets the
# service account's CA itself.
ROOTS_DIR = "/etc/ssl/stack-roots"
TLS_ENV = {"SSL_CERT_FILE": tls.CA_FILE, "SSL_CERT_DIR": ROOTS_DIR}


def otebpf_config(stack: StackConfig) -> dict:
    return {
        "log_level": "INFO",
        "discovery": {"instrument": [
            {"k8s_namespace": stack.app_namespace, "k8s_pod_labels": dict(stack.openemr.pod_labels)}]},
        "attributes": {"kubernetes": {"enable": "true", "cluster_name": stack.cluster_name}},
        # Group URL paths with IDs in them, so that http_route stays low-cardinality.
        "routes": {"unmatched": "heuristic"},
        "otel_traces_export": {"endpoint": traces_url(stack), "protocol": "http/protobuf"},
        "prometheus_export": {"port": METRICS.number, "path": "/metrics"},
        "internal_metrics": {"exporter": "prometheus",
                             "prometheus": {"port": INTERNAL.number, "path": "/internal/metrics"}},
    }


class Otebpf(Construct):
    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, "otebpf")
        stack = ctx.config
        if not stack.otebpf.enabled:
            return
        identity = ctx.identity("otebpf", "instrumentation", versions.OTEBPF)
        text = yaml.safe_dump(otebpf_config(stack), sort_keys=True)
        k.KubeConfigMap(self, "config", metadata=identity.meta("otebpf-config"), data={"config.yaml": text})
        certificate = tls.certificate(self, stack, identity, tls.client_names(identity))  # for its ca.crt
        env = {"OTEL_EBPF_CONFIG_PATH": f"{CONFIG_DIR}/config.yaml", **TLS_ENV}
        container = ContainerSpec(
            name="otebpf", image=versions.OTEBPF.ref, resources=stack.otebpf.resources, ports=[METRICS, INTERNAL],
            env=[k.EnvVar(name=name, value=value) for name, value in env.items()],
            mounts=[k.VolumeMount(name="config", mount_path=CONFIG_DIR, read_only=True),
                    k.VolumeMount(name="tmp", mount_path="/tmp"), certificate.mount(),
                    k.VolumeMount(name=tls.VOLUME, mount_path=f"{ROOTS_DIR}/ca.crt", sub_path="ca.crt",
                                  read_only=True)],
            readiness=HttpProbe("/internal/metrics", INTERNAL.name),
            liveness=HttpProbe("/internal/metrics", INTERNAL.name))
        pod = PodSpec(
            identity, [container], uid=0, api_access="adds Kubernetes attributes (pod, deployment, namespace) to spans and metrics", tolerate_all_taints=True,
            volumes=[k.Volume(name="config", config_map=k.ConfigMapVolumeSource(name="otebpf-config")),
                     empty_dir("tmp"), certificate.volume()],
            annotations={"checksum/config": checksum(text)},
            host_access=HostAccess(
                "hostPID: attach eBPF probes to OpenEMR's processes on the node; root with BPF, PERFMON, "
                "SYS_PTRACE, DAC_READ_SEARCH, CHECKPOINT_RESTORE, NET_RAW (OBI's unprivileged mode), "
                f"not privileged; {SELINUX}", host_pid=True, run_as_root=True, capabilities=CAPABILITIES))
        service_account(self, identity)
        cluster_role(self, identity, GRANTS)
        daemon_set(self, pod)
        pod_monitor(self, identity, [Endpoint(METRICS.name), Endpoint(INTERNAL.name, path="/internal/metrics")])
        ctx.scraped(identity, [METRICS, INTERNAL])
        component_policy(self, identity, Policy(
            ingress=[rule([ctx.pods_of("prometheus")], [METRICS, INTERNAL])],
            egress=[rule([ctx.pods_of(tempo.otlp_service(stack))], [tempo.OTLP_HTTP]),
                    rule(cidrs(stack.network.kube_api_cidrs), [KUBE_API])]))
