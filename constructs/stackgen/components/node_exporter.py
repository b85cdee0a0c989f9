"""node-exporter on every node: CPU, memory, disk, filesystem and network of the hosts.

Host access, each for a reason: hostNetwork (the host's network interfaces and their counters, not the
pod's), read-only hostPath mounts of /, /proc and /sys (the host's filesystems and kernel counters).
It needs no hostPID, no capabilities and no root. NetworkPolicies do not apply to host-network pods;
it listens on the node's own address only, and Prometheus reaches it through `network.node_cidrs`.
"""
from __future__ import annotations

import cdk8s_plus_37.k8s as k

from constructs import Construct
from stackgen import versions
from stackgen.context import Context
from stackgen.lib import tls
from stackgen.lib.monitors import Endpoint, ScrapeTls, service_monitor
from stackgen.lib.workload import (
    ContainerSpec,
    HostAccess,
    HttpProbe,
    PodSpec,
    Port,
    daemon_set,
    service,
    service_account,
)
from stackgen.settings import Model, Resources, sized


class NodeExporterConfig(Model):
    resources: Resources = sized("25m", "32Mi", "100m", "64Mi")


METRICS = Port("metrics", 9100)
HOST_PATHS = {"root": ("/", "/host/root"), "proc": ("/proc", "/host/proc"), "sys": ("/sys", "/host/sys")}
IGNORED_MOUNTS = r"^/(dev|proc|sys|run/containerd/.+|var/lib/kubelet/.+|var/lib/containerd/.+)($|/)"
IGNORED_FS_TYPES = r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs|tmpfs)$"


# EKS Auto Mode nodes enforce SELinux (Bottlerocket). AWS's own node-exporter for them (the
# amazon-cloudwatch-observability chart, `nodeExporter.securityContext: {}`) sets no SELinux label; nor do we.
SELINUX = "SELinux: the runtime's default container_t (no seLinuxOptions), as AWS's node-exporter on Auto Mode"


class NodeExporter(Construct):
    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, "node-exporter")
        identity = ctx.identity("node-exporter", "exporter", versions.NODE_EXPORTER)
        certificate = tls.certificate(self, ctx.config, identity, tls.service_names(identity.name, identity.namespace))
        web_config = tls.web_config_file(self, identity)
        container = ContainerSpec(
            name="node-exporter", image=versions.NODE_EXPORTER.ref,
            resources=ctx.config.node_exporter.resources, ports=[METRICS],
            args=[
                "--web.listen-address=$(HOST_IP):9100", f"--web.config.file={tls.WEB_CONFIG_FILE}",
                "--path.rootfs=/host/root", "--path.procfs=/host/proc", "--path.sysfs=/host/sys",
                f"--collector.filesystem.mount-points-exclude={IGNORED_MOUNTS}",
                f"--collector.filesystem.fs-types-exclude={IGNORED_FS_TYPES}",
                "--no-collector.wifi", "--no-collector.hwmon",
            ],
            env=[k.EnvVar(name="HOST_IP", value_from=k.EnvVarSource(
                field_ref=k.ObjectFieldSelector(field_path="status.hostIP")))],
            mounts=[k.VolumeMount(name=name, mount_path=target, read_only=True,
                                  mount_propagation="HostToContainer" if name == "root" else None)
                    for name, (_, target) in HOST_PATHS.items()] + [certificate.mount(), web_config.mount()],
            readiness=HttpProbe("/", METRICS.name, "HTTPS"), liveness=HttpProbe("/", METRICS.name, "HTTPS"))
        pod = PodSpec(
            identity, [container], uid=65534,
            volumes=[k.Volume(name=name, host_path=k.HostPathVolumeSource(path=source))
                     for name, (source, _) in HOST_PATHS.items()] + [certificate.volume(), web_config.volume()],
            host_access=HostAccess(
                "hostNetwork: the host's network interfaces and counters; read-only hostPath /, /proc, /sys: "
                f"the host's filesystems and kernel counters; {SELINUX}", host_network=True),
            tolerate_all_taints=True)
        service_account(self, identity)
        daemon_set(self, pod)
        service(self, identity, [METRICS])
        service_monitor(self, identity, [Endpoint(METRICS.name, relabel_instance_to_node=True, tls=ScrapeTls(
            certificate.secret, tls.server_name(identity.name, identity.namespace)))])
