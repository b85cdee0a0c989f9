"""NetworkPolicy evaluation: would the rendered policies let one pod (or address, or host name) reach another?

ApplicationNetworkPolicies (EKS Auto Mode, networking.k8s.aws/v1alpha1) are evaluated with the
NetworkPolicies of their namespace, as AWS does ("Use Network Policies with EKS Auto Mode": namespace
NetworkPolicy and ApplicationNetworkPolicy are one tier): a flow either allows is allowed. Their
`domainNames` peers match a destination reached by that name (`Address.host`); an `ipBlock` matches its
address, whatever name it was reached by."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stackgen.components.cluster import KUBE_DNS, dns_addresses
from stackgen.manifests import Manifests, Pod, matches

if TYPE_CHECKING:
    from stackgen.components.cluster import Network

# Where a host-network pod is reached: any node address inside the default node CIDRs.
NODE_ADDRESS = "10.0.0.10"


@dataclass(frozen=True)
class Address:
    """A destination outside the pod network (API server, a node, the internet), reached by `host` if named."""
    ip: str
    host: str | None = None


def domain_matches(pattern: str, host: str) -> bool:
    """A domainNames entry: exact, or `*.` followed by a suffix matching one or more whole labels (the CRD's
    DomainName: `*.kubernetes.io` matches `blog.kubernetes.io`, not `kubernetes.io`)."""
    pattern, host = pattern.rstrip(".").lower(), host.rstrip(".").lower()
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


def _peer_matches(m: Manifests, peer: dict, policy_namespace: str, other: Pod | Address) -> bool:
    if "domainNames" in peer:
        return isinstance(other, Address) and other.host is not None and any(
            domain_matches(pattern, other.host) for pattern in peer["domainNames"])
    if "ipBlock" in peer:
        if not isinstance(other, Address):
            return False
        block = peer["ipBlock"]
        address = ipaddress.ip_address(other.ip)
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(e) for e in block.get("except", []))
    if isinstance(other, Address):
        return False
    if "namespaceSelector" in peer:
        if not matches(peer["namespaceSelector"], m.namespace_labels(other.namespace)):
            return False
    elif other.namespace != policy_namespace:
        return False
    return matches(peer.get("podSelector", {}), other.labels)


def _port_matches(rule_ports: list[dict] | None, number: int, protocol: str, pod: Pod | None) -> bool:
    if not rule_ports:
        return True
    for port in rule_ports:
        if port.get("protocol", "TCP") != protocol:
            continue
        value = port.get("port")
        if value is None or value == number or (isinstance(value, str) and pod and pod.ports.get(value, (None,))[0] == number):
            return True
    return False


def _allowed_by(m: Manifests, pod: Pod, direction: str, other: Pod | Address, number: int, protocol: str,
                destination: Pod | None) -> bool:
    policy_type, rules_key, peers_key = {"Ingress": ("Ingress", "ingress", "from"),
                                         "Egress": ("Egress", "egress", "to")}[direction]
    policies = [p for p in m.of_kind("NetworkPolicy", "ApplicationNetworkPolicy")
                if p["metadata"]["namespace"] == pod.namespace
                and policy_type in p["spec"].get("policyTypes", ["Ingress"])
                and matches(p["spec"]["podSelector"], pod.labels)]
    if not policies:
        return True
    for policy in policies:
        for rule in policy["spec"].get(rules_key) or []:
            peers = rule.get(peers_key)
            peer_ok = not peers or any(_peer_matches(m, peer, pod.namespace, other) for peer in peers)
            if peer_ok and _port_matches(rule.get("ports"), number, protocol, destination):
                return True
    return False


def flow_allowed(m: Manifests, source: Pod, destination: Pod | Address, port: int, protocol: str = "TCP") -> bool:
    """Would the rendered NetworkPolicies let `source` open `port` on `destination`?

    Host-network pods are not subject to NetworkPolicies; as a destination they are their node's address.
    """
    if isinstance(destination, Pod) and destination.host_network:
        destination = Address(NODE_ADDRESS)
    if not source.host_network and not _allowed_by(m, source, "Egress", destination, port, protocol,
                                                   destination if isinstance(destination, Pod) else None):
        return False
    if isinstance(destination, Pod):
        return _allowed_by(m, destination, "Ingress", source, port, protocol, destination)
    return True


DNS = ((53, "UDP"), (53, "TCP"))


def dns_peers(network: Network) -> list[Pod | Address]:
    """Where the pods' resolver really is. node-local (EKS Auto Mode): the cluster DNS address in their
    /etc/resolv.conf, answered by CoreDNS on the node (there are no kube-dns pods). kube-dns: the CoreDNS
    pods the kube-dns Service sends that address to (policies see the pod, after the Service's DNAT)."""
    if network.dns == "kube-dns":
        return [Pod("coredns", "kube-system", dict(KUBE_DNS), {"dns": (53, "UDP"), "dns-tcp": (53, "TCP")})]
    return [Address(address) for address in dns_addresses(network)]


def dns_flows(m: Manifests, network: Network) -> list[tuple[Pod, Pod | Address, int, str]]:
    """Every DNS query the rendered pods make: each pod not on the host network (those use the node's
    resolver and no policy applies to them) to its real resolver, over UDP and TCP."""
    return [(pod, peer, port, protocol) for pod in m.pods() if not pod.host_network
            for peer in dns_peers(network) for port, protocol in DNS]
