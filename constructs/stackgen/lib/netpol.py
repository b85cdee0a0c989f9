"""NetworkPolicies, written once. The namespace denies everything by default; each component states
exactly which peers may reach which of its ports and where it may connect to.

Destinations outside the cluster reached by name (AWS endpoints, grafana.com, receivers, the identity
provider) are `external()` rules: with `network.egress: domain-names` (EKS Auto Mode) their peers are
domain names, which a NetworkPolicy cannot hold, so they are rendered in an ApplicationNetworkPolicy
(`networking.k8s.aws/v1alpha1`) beside the component's NetworkPolicy, same name and pod selector; with
`cidr` they are `0.0.0.0/0` on the same ports. AWS evaluates both kinds together: traffic either allows
is allowed ("Use Network Policies with EKS Auto Mode", evaluation order).
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import cdk8s_plus_37.k8s as k

from constructs import Construct
from stackgen.lib.meta import Identity
from stackgen.lib.plain import custom_resource
from stackgen.lib.workload import Port, int_or_string

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


ANP_API_VERSION = "networking.k8s.aws/v1alpha1"
ANP_KIND = "ApplicationNetworkPolicy"
EgressMode = Literal["domain-names", "cidr"]
ANYWHERE = "0.0.0.0/0"


@dataclass(frozen=True)
class Peer:
    """Pods (by labels, in a namespace), an address block, or domain names (ApplicationNetworkPolicy only)."""
    pod_labels: tuple[tuple[str, str], ...] = ()
    namespace: str | None = None
    cidr: str | None = None
    domains: tuple[str, ...] = ()

    def render(self) -> k.NetworkPolicyPeer:
        if self.domains:
            raise ValueError(f"domain names {self.domains} need an ApplicationNetworkPolicy, not a NetworkPolicy peer")
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


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def external(mode: EgressMode, hosts: Iterable[str], ports: list[Port]) -> list[Rule]:
    """Egress to hosts outside the cluster on `ports`: by name with `domain-names`, to anywhere with `cidr`.
    A host given as an address is that address (/32) in both modes."""
    hosts = sorted(set(hosts))
    addresses = [host for host in hosts if _is_address(host)]
    names = tuple(host for host in hosts if host not in addresses)
    if mode == "cidr":
        return [rule(cidrs([ANYWHERE]), ports)] if names or addresses else []
    return ([rule([Peer(domains=names)], ports)] if names else []) + \
        ([rule(cidrs([f"{a}/32" for a in addresses]), ports)] if addresses else [])


def aws_endpoints(region: str, *services: str) -> list[str]:
    """Regional endpoint names (`<service>.<region>.amazonaws.com`). S3 also by virtual-hosted bucket name
    (`<bucket>.s3.<region>.amazonaws.com`): a domain-name wildcard matches subdomains only, so both are listed."""
    names = []
    for service in services:
        names.append(f"{service}.{region}.amazonaws.com")
        if service == "s3":
            names.append(f"*.s3.{region}.amazonaws.com")
    return names


@dataclass
class Policy:
    ingress: list[Rule] = field(default_factory=list)
    egress: list[Rule] = field(default_factory=list)


def _by_name(r: Rule) -> bool:
    return any(p.domains for p in r.peers)


def network_policy(scope: Construct, meta: k.ObjectMeta, pod_selector: dict[str, str], policy: Policy,
                   policy_types: tuple[str, ...] = ("Ingress", "Egress")) -> k.KubeNetworkPolicy:
    """The NetworkPolicy, and the ApplicationNetworkPolicy of its egress rules by domain name if it has any."""
    by_name = [r for r in policy.egress if _by_name(r)]
    if by_name:
        _application_network_policy(scope, meta, pod_selector, by_name)
    return k.KubeNetworkPolicy(
        scope, f"network-policy-{meta.name}", metadata=meta,
        spec=k.NetworkPolicySpec(
            pod_selector=k.LabelSelector(match_labels=pod_selector or None),
            policy_types=list(policy_types),
            ingress=[k.NetworkPolicyIngressRule(from_=[p.render() for p in r.peers], ports=r.render_ports())
                     for r in policy.ingress] or None,
            egress=[k.NetworkPolicyEgressRule(to=[p.render() for p in r.peers], ports=r.render_ports())
                    for r in policy.egress if not _by_name(r)] or None,
        ),
    )


def _application_network_policy(scope: Construct, meta: k.ObjectMeta, pod_selector: dict[str, str],
                                rules: list[Rule]) -> None:
    """Egress by domain name (aws/amazon-network-policy-controller-k8s, api/v1alpha1: a peer holds
    `domainNames` alone; `*.` matches one or more whole labels, as a prefix only)."""
    custom_resource(
        scope, f"application-network-policy-{meta.name}", ANP_API_VERSION, ANP_KIND,
        {"name": meta.name, "namespace": meta.namespace, "labels": meta.labels},
        {"podSelector": {"matchLabels": dict(pod_selector)} if pod_selector else {},
         "policyTypes": ["Egress"],
         "egress": [{"to": [{"domainNames": list(p.domains)} for p in r.peers],
                     "ports": [{"port": p.number, "protocol": p.protocol} for p in r.ports]} for r in rules]})


def component_policy(scope: Construct, identity: Identity, policy: Policy, *, pod_selector: dict[str, str] | None = None,
                     policy_types: tuple[str, ...] = ("Ingress", "Egress")) -> k.KubeNetworkPolicy:
    """Everything not listed is denied, in the directions named, for the component's pods."""
    return network_policy(scope, identity.meta(), pod_selector or identity.selector, policy, policy_types)
