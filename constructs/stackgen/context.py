"""What every component of one overlay shares: its configuration and the flows it declares."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from stackgen.lib.meta import Identity
from stackgen.lib.netpol import Peer, pods
from stackgen.lib.placement import placement
from stackgen.lib.workload import Port
from stackgen.names import AGENTS, selector
from stackgen.versions import Image

if TYPE_CHECKING:  # the overlay's model imports every component's; this only annotates
    from stackgen.config import StackConfig


@dataclass(frozen=True)
class ScrapeTarget:
    peer: Peer
    ports: tuple[Port, ...]


@dataclass
class Context:
    overlay: str
    config: StackConfig
    # Filled by each component as it declares a ServiceMonitor; Prometheus' egress is built from it.
    scrape_targets: list[ScrapeTarget] = field(default_factory=list)
    # Files rendered beside the overlay but not applied with it: directory -> file name -> objects.
    extra_files: dict[str, dict[str, list[dict]]] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        return self.config.namespace

    def namespace_of(self, name: str) -> str:
        """Node agents live apart from the stack (see names.AGENTS)."""
        return self.config.agents_namespace if name in AGENTS else self.config.namespace

    def identity(self, name: str, component: str, image: Image) -> Identity:
        """The stack's own pods run on its NodePool (nodes.pool: dedicated); the node agents everywhere."""
        namespace = self.namespace_of(name)
        return Identity(name=name, component=component, version=image.version, instance=self.config.instance,
                        namespace=namespace, placement=placement(self.config) if namespace == self.namespace else None)

    def pods_of(self, name: str) -> Peer:
        """The pods of one of the stack's components (same selector every component uses)."""
        return pods(selector(name, self.config.instance), self.namespace_of(name))

    def app_pods(self) -> Peer:
        """OpenEMR's pods, in the application's namespace."""
        return pods(self.config.openemr.pod_labels, self.config.app_namespace)

    def log_shippers(self) -> list[Peer]:
        """Who pushes logs to Loki: the Fluent Bit DaemonSet, its Kubernetes events replica, and OpenEMR's
        pods in sidecar mode."""
        sidecar = [self.app_pods()] if self.config.fluent_bit.sidecar.enabled else []
        events = [self.pods_of("fluent-bit-events")] if self.config.fluent_bit.events.enabled else []
        return [self.pods_of("fluent-bit"), *events, *sidecar]

    def trace_senders(self) -> list[Peer]:
        """Who pushes traces to Tempo over OTLP: OTeBPF, when enabled."""
        return [self.pods_of("otebpf")] if self.config.otebpf.enabled else []

    def scraped(self, identity: Identity, ports: list[Port]) -> None:
        self.scrape_targets.append(ScrapeTarget(pods(identity.selector, identity.namespace), tuple(ports)))
