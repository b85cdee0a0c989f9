"""Secure workloads, written once: restricted security contexts, requests and limits, probes, spread.

Every container gets: non-root, read-only root filesystem, no privilege escalation, all capabilities
dropped, seccomp RuntimeDefault, requests and limits, a readiness probe, and a liveness probe where the
upstream project recommends one (on an endpoint that reflects the process alone, never its peers). A component that
needs host access asks for it explicitly through `host_access` and says why at the call site.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field

import cdk8s_plus_37.k8s as k

from constructs import Construct
from stackgen.lib import security_findings
from stackgen.lib.meta import Identity
from stackgen.names import HOST_ACCESS_ANNOTATION
from stackgen.settings import ZONES, Resources

RUNTIME_DEFAULT = k.SeccompProfile(type="RuntimeDefault")
HOSTNAME_KEY = "kubernetes.io/hostname"
ZONE_KEY = "topology.kubernetes.io/zone"


@dataclass(frozen=True)
class HostAccess:
    """An exception to the restricted defaults for a node agent. Everything else stays restricted:
    read-only root filesystem, no privilege escalation, every capability not listed dropped."""
    reason: str
    host_pid: bool = False
    host_network: bool = False
    # uid 0, e.g. to read host files owned by root (no capability is needed for that).
    run_as_root: bool = False
    capabilities: tuple[str, ...] = ()


# Each of these is a call into the jsii runtime; the same values recur hundreds of times per render.
@functools.cache
def quantity(value: str) -> k.Quantity:
    return k.Quantity.from_string(value)


@functools.cache
def int_or_string(value: int | str) -> k.IntOrString:
    return k.IntOrString.from_number(value) if isinstance(value, int) else k.IntOrString.from_string(value)


@dataclass(frozen=True)
class Port:
    name: str
    number: int
    protocol: str = "TCP"


@dataclass(frozen=True)
class HttpProbe:
    path: str
    port: str
    scheme: str = "HTTP"


def resource_requirements(resources: Resources) -> k.ResourceRequirements:
    return k.ResourceRequirements(
        requests={"cpu": quantity(resources.cpu_request),
                  "memory": quantity(resources.memory_request)},
        limits={"cpu": quantity(resources.cpu_limit),
                "memory": quantity(resources.memory_limit)},
    )


def container_security_context(host_access: HostAccess | None = None, uid: int | None = None) -> k.SecurityContext:
    """`uid` for a container added to a pod whose pod-level securityContext is not ours."""
    root = bool(host_access and host_access.run_as_root)
    added = list(host_access.capabilities) if host_access else []
    return k.SecurityContext(
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        run_as_non_root=not root,
        run_as_user=0 if root else uid,
        run_as_group=uid if uid is not None and not root else None,
        capabilities=k.Capabilities(drop=["ALL"], add=added or None),
        seccomp_profile=RUNTIME_DEFAULT,
    )


def pod_security_context(uid: int, fs_group: int | None = None, root: bool = False) -> k.PodSecurityContext:
    return k.PodSecurityContext(
        run_as_non_root=not root, run_as_user=0 if root else uid, run_as_group=0 if root else uid,
        fs_group=fs_group, seccomp_profile=RUNTIME_DEFAULT,
    )


def _probe(probe: HttpProbe, initial_delay: int, failure_threshold: int) -> k.Probe:
    return k.Probe(
        http_get=k.HttpGetAction(path=probe.path, port=int_or_string(probe.port),
                                 scheme=None if probe.scheme == "HTTP" else probe.scheme),
        initial_delay_seconds=initial_delay, period_seconds=10, timeout_seconds=5,
        failure_threshold=failure_threshold,
    )


@dataclass
class ContainerSpec:
    name: str
    image: str
    resources: Resources
    ports: list[Port]
    # None only for a Job's run-to-completion container (nothing routes to it; validate checks the rest).
    readiness: HttpProbe | None
    # None where the upstream project renders none; `no_liveness` then says why (rendered for reviewers).
    liveness: HttpProbe | None
    args: list[str] = field(default_factory=list)
    env: list[k.EnvVar] = field(default_factory=list)
    mounts: list[k.VolumeMount] = field(default_factory=list)
    command: list[str] = field(default_factory=list)
    uid: int | None = None
    no_liveness: str = ""

    def __post_init__(self) -> None:
        if self.liveness is None and not self.no_liveness:
            raise ValueError(f"container {self.name}: a container without a liveness probe must say why")

    def render(self, host_access: HostAccess | None = None) -> k.Container:
        return k.Container(
            name=self.name,
            image=self.image,
            image_pull_policy="IfNotPresent",
            command=self.command or None,
            args=self.args or None,
            env=self.env or None,
            ports=[k.ContainerPort(name=p.name, container_port=p.number, protocol=p.protocol)
                   for p in self.ports] or None,
            resources=resource_requirements(self.resources),
            readiness_probe=_probe(self.readiness, initial_delay=5, failure_threshold=3) if self.readiness else None,
            liveness_probe=_probe(self.liveness, initial_delay=30, failure_threshold=6) if self.liveness else None,
            security_context=container_security_context(host_access, self.uid),
            volume_mounts=self.mounts or None,
            termination_message_policy="FallbackToLogsOnError",
        )


def spread_constraints(identity: Identity) -> list[k.TopologySpreadConstraint]:
    """Spread replicas over nodes and zones; soft, so a small cluster still schedules them."""
    return [
        k.TopologySpreadConstraint(
            max_skew=1, topology_key=key, when_unsatisfiable="ScheduleAnyway",
            label_selector=k.LabelSelector(match_labels=identity.selector))
        for key in (HOSTNAME_KEY, ZONE_KEY)
    ]


def one_member_per_zone(identity: Identity) -> list[k.TopologySpreadConstraint]:
    """Hard: members of a hash ring evenly over the zones, counting at least ZONES of them (while fewer zones
    have usable nodes, minDomains keeps the next member Pending for a node in another zone rather than
    stack two in one); tainted nodes the pods cannot use do not count as empty zones."""
    return [k.TopologySpreadConstraint(
        max_skew=1, topology_key=ZONE_KEY, when_unsatisfiable="DoNotSchedule", min_domains=ZONES,
        node_taints_policy="Honor", label_selector=k.LabelSelector(match_labels=identity.selector))]


def one_member_per_node(identity: Identity) -> k.Affinity:
    """Hard: never two members of a hash ring on one node, so one node down is one member down."""
    return k.Affinity(pod_anti_affinity=k.PodAntiAffinity(required_during_scheduling_ignored_during_execution=[
        k.PodAffinityTerm(topology_key=HOSTNAME_KEY, label_selector=k.LabelSelector(match_labels=identity.selector))]))


@dataclass
class PodSpec:
    identity: Identity
    containers: list[ContainerSpec]
    uid: int
    fs_group: int | None = None
    # Only pods that talk to the Kubernetes API get a token mounted: what they call it for.
    api_access: str = ""
    # A Secret read as an environment variable (checkov prefers files): why the program needs it so.
    secret_env: str = ""
    volumes: list[k.Volume] = field(default_factory=list)
    may_scale_out: bool = False
    # Host access for node agents, with the reason rendered on the pod.
    host_access: HostAccess | None = None
    tolerate_all_taints: bool = False
    annotations: dict[str, str] = field(default_factory=dict)
    # Labels beyond the identity's, e.g. membership of a hash ring shared by several workloads.
    extra_labels: dict[str, str] = field(default_factory=dict)
    # Several workloads of one component may share one ServiceAccount (one IRSA role).
    service_account: str | None = None
    priority_class: str | None = None
    # A member of a replicated hash ring: one per node and one per zone (hard), so that losing a node or a
    # zone loses one member of each ring.
    ring_member: bool = False
    # Time to flush or hand over on SIGTERM before the kubelet kills it (None: Kubernetes' 30 s).
    grace_seconds: int | None = None

    def template(self) -> k.PodTemplateSpec:
        access = self.host_access
        annotations = {**self.annotations, **({HOST_ACCESS_ANNOTATION: access.reason} if access else {})}
        host_network = bool(access and access.host_network)
        placement = None if self.tolerate_all_taints else self.identity.placement
        return k.PodTemplateSpec(
            metadata=k.ObjectMeta(labels={**self.identity.labels, **self.extra_labels},
                                  annotations=annotations or None),
            spec=k.PodSpec(
                service_account_name=self.service_account or self.identity.name,
                automount_service_account_token=bool(self.api_access),
                security_context=pod_security_context(self.uid, self.fs_group, bool(access and access.run_as_root)),
                containers=[c.render(access) for c in self.containers],
                volumes=self.volumes or None,
                host_network=host_network or None,
                host_pid=(access and access.host_pid) or None,
                dns_policy="ClusterFirstWithHostNet" if host_network else None,
                topology_spread_constraints=self._spread(),
                affinity=one_member_per_node(self.identity) if self.ring_member else None,
                termination_grace_period_seconds=self.grace_seconds,
                node_selector=placement.node_selector if placement else None,
                tolerations=[k.Toleration(operator="Exists")] if self.tolerate_all_taints else
                [k.Toleration(**placement.toleration)] if placement else None,
                enable_service_links=False,
                priority_class_name=self.priority_class,
            ),
        )

    def _spread(self) -> list[k.TopologySpreadConstraint] | None:
        if self.ring_member:
            return one_member_per_zone(self.identity)
        return spread_constraints(self.identity) if self.may_scale_out else None


def justified(pod: PodSpec) -> dict[str, str]:
    """The peer suite's (checkov's) findings this workload keeps on purpose, each with its reason, as
    the `checkov.io/skip<N>` annotations it reads on the object itself."""
    return security_findings.annotations(security_findings.justified(pod))


def deployment(scope: Construct, pod: PodSpec, *, replicas: int | None, recreate: bool = False) -> k.KubeDeployment:
    """`replicas=None` leaves the count to an HPA (a rendered count would fight it on every apply)."""
    identity = pod.identity
    return k.KubeDeployment(
        scope, "deployment", metadata=identity.meta(annotations=justified(pod)),
        spec=k.DeploymentSpec(
            replicas=replicas,
            revision_history_limit=5,
            selector=k.LabelSelector(match_labels=identity.selector),
            strategy=k.DeploymentStrategy(type="Recreate") if recreate else None,
            template=pod.template(),
        ),
    )


def stateful_set(scope: Construct, pod: PodSpec, *, replicas: int, service_name: str, claim_name: str,
                 claim_size: str, storage_class: str) -> k.KubeStatefulSet:
    """Members of a hash ring: started in parallel (they find each other through memberlist), each with
    its own volume for WAL and local data. Updates replace one member at a time, the next only once the
    last is Ready (`/ready`: back in the ring, WAL replayed), as Loki's, Tempo's and Mimir's charts do
    (RollingUpdate, partition 0; podManagementPolicy applies to scaling only, not to updates)."""
    identity = pod.identity
    return k.KubeStatefulSet(
        scope, "statefulset", metadata=identity.meta(annotations=justified(pod)),
        spec=k.StatefulSetSpec(
            replicas=replicas,
            service_name=service_name,
            pod_management_policy="Parallel",
            update_strategy=k.StatefulSetUpdateStrategy(
                type="RollingUpdate", rolling_update=k.RollingUpdateStatefulSetStrategy(partition=0)),
            selector=k.LabelSelector(match_labels=identity.selector),
            template=pod.template(),
            volume_claim_templates=[k.KubePersistentVolumeClaimProps(
                metadata=k.ObjectMeta(name=claim_name),
                spec=k.PersistentVolumeClaimSpec(
                    access_modes=["ReadWriteOnce"], storage_class_name=storage_class,
                    resources=k.VolumeResourceRequirements(requests={"storage": quantity(claim_size)})))],
        ),
    )


def daemon_set(scope: Construct, pod: PodSpec) -> k.KubeDaemonSet:
    identity = pod.identity
    return k.KubeDaemonSet(
        scope, "daemonset", metadata=identity.meta(annotations=justified(pod)),
        spec=k.DaemonSetSpec(
            selector=k.LabelSelector(match_labels=identity.selector),
            update_strategy=k.DaemonSetUpdateStrategy(
                type="RollingUpdate",
                rolling_update=k.RollingUpdateDaemonSet(max_unavailable=int_or_string("10%"))),
            template=pod.template(),
        ),
    )


def checksum(text: str) -> str:
    """For a pod annotation that rolls the pods when a mounted configuration changes."""
    return hashlib.sha256(text.encode()).hexdigest()


def empty_dir(name: str, size_limit: str = "64Mi") -> k.Volume:
    return k.Volume(name=name, empty_dir=k.EmptyDirVolumeSource(size_limit=quantity(size_limit)))


def service_account(scope: Construct, identity: Identity, *, annotations: dict | None = None) -> k.KubeServiceAccount:
    return k.KubeServiceAccount(
        scope, "service-account", metadata=identity.meta(annotations=annotations),
        automount_service_account_token=False,
    )


def service(scope: Construct, identity: Identity, ports: list[Port], *, name: str | None = None,
            selector: dict[str, str] | None = None, headless: bool = False,
            session_affinity: str | None = None) -> k.KubeService:
    """A Service on named ports; headless ones (peer discovery) also publish pods that are not ready."""
    return k.KubeService(
        scope, f"service-{name or identity.name}", metadata=identity.meta(name),
        spec=k.ServiceSpec(
            cluster_ip="None" if headless else None,
            publish_not_ready_addresses=headless or None,
            selector=selector or identity.selector,
            session_affinity=session_affinity,
            ports=[k.ServicePort(name=p.name, port=p.number, protocol=p.protocol,
                                 target_port=int_or_string(p.name)) for p in ports],
        ),
    )
