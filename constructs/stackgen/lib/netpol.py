"""NetworkPolicies, written once. The namespace denies everything by default; each component states
exactly which peers may reach which of its ports and where it may connect to."""
from __future__ import annotations

from dataclasses import dataclass, field

import cdk8s_plus_37.k8s as k

from constructs import Construct
from stackgen.lib.meta import Identity
from stackgen.lib.workload import Port, int_or_string

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class Peer:
    """Pods (by labels, in a namespace) or an address block."""
    pod_labels: tuple[tuple[str, str], ...] = ()
    namespace: str | None = None
    cidr: str | None = None

    def render(self) -> k.NetworkPolicyPeer:
        if self.cidr:
            return k.NetworkPolicyPeer(ip_block=k.IpBlock(cidr=self.cidr))
        return k.NetworkPolicyPeer(
            pod_selector=k.LabelSelector(match_labels=dict(self.pod_labels)),
            namespace_selector=k.LabelSelector(match_labels={NAMESPACE_NAME_LABEL: self.namespace}),
        )


def pods(labels: dict[str, str], namespace: str) -> Peer:
    return Peer(pod_labels=tuple(sorted(labels.items())), namespace=namespace)


def cidrs(blocks: list[str]) -> list[Peer]:
    return [Peer(cidr=block) for block in blocks]


@dataclass(frozen=True)
class Rule:
    peers: tuple[Peer, ...]
    ports: tuple[Port, ...]

    def render_ports(self) -> list[k.NetworkPolicyPort]:
        return [k.NetworkPolicyPort(port=int_or_string(p.number), protocol=p.protocol)
                for p in self.ports]


def rule(peers: list[Peer], ports: list[Port]) -> Rule:
    return Rule(tuple(peers), tuple(ports))


@dataclass
class Policy:
    ingress: list[Rule] = field(default_factory=list)
    egress: list[Rule] = field(default_factory=list)


def network_policy(scope: Construct, meta: k.ObjectMeta, pod_selector: dict[str, str], policy: Policy,
                   policy_types: tuple[str, ...] = ("Ingress", "Egress")) -> k.KubeNetworkPolicy:
    return k.KubeNetworkPolicy(
        scope, f"network-policy-{meta.name}", metadata=meta,
        spec=k.NetworkPolicySpec(
            pod_selector=k.LabelSelector(match_labels=pod_selector or None),
            policy_types=list(policy_types),
            ingress=[k.NetworkPolicyIngressRule(from_=[p.render() for p in r.peers], ports=r.render_ports())
                     for r in policy.ingress] or None,
            egress=[k.NetworkPolicyEgressRule(to=[p.render() for p in r.peers], ports=r.render_ports())
                    for r in policy.egress] or None,
        ),
    )


def component_policy(scope: Construct, identity: Identity, policy: Policy, *, pod_selector: dict[str, str] | None = None,
                     policy_types: tuple[str, ...] = ("Ingress", "Egress")) -> k.KubeNetworkPolicy:
    """Everything not listed is denied, in the directions named, for the component's pods."""
    return network_policy(scope, identity.meta(), pod_selector or identity.selector, policy, policy_types)
