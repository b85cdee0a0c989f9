"""The namespace, the encrypted StorageClass and the namespace-wide network baseline."""
from __future__ import annotations

import ipaddress
from typing import Literal

import cdk8s_plus_37.k8s as k
from pydantic import ConfigDict, ValidationInfo, field_validator, model_validator

from constructs import Construct
from stackgen.context import Context
from stackgen.lib.netpol import NAMESPACE_NAME_LABEL, EgressMode, Policy, Rule, cidrs, network_policy, pods, rule
from stackgen.lib.workload import Port
from stackgen.names import PART_OF
from stackgen.settings import DnsLabel, Model


class Storage(Model):
    class_name: DnsLabel = "gp3-monitoring-encrypted"
    # Customer-managed KMS key (ARN or id); empty means the account's default EBS key.
    kms_key_id: str = ""


class Network(Model):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
    # Node addresses: node-exporter and the kubelet listen on the host network.
    node_cidrs: list[str] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
    # How pods resolve names. `node-local`: EKS Auto Mode, where CoreDNS runs as a system service on each
    # node and there are no kube-dns pods to select; pods reach it at the cluster DNS address (the .10 of
    # the service CIDR). `kube-dns`: CoreDNS pods (k8s-app: kube-dns in kube-system), standard EKS.
    dns: Literal["node-local", "kube-dns"] = "node-local"
    # The cluster's service CIDR (`aws eks describe-cluster --query
    # cluster.kubernetesNetworkConfig.serviceIpv4Cidr`). Unset: EKS assigns one of its two defaults.
    service_cidr: str | None = None
    # Where pods' calls to the Kubernetes API server are allowed: the `kubernetes` Service's ClusterIP, the
    # service CIDR's first address, which the network policy agent matches before kube-proxy's DNAT
    # (aws/discover.py, kube_api_address, says why). Unset: that address of `service_cidr`, or of both EKS
    # defaults while that is unset too (as for DNS); `aws discover` writes the cluster's.
    kube_api_cidrs: list[str] | None = None
    # The amazon-vpc-cni ConfigMap that turns NetworkPolicy enforcement on (cluster-wide, shared with other
    # teams): `manage` renders it in the platform stage; `existing`: the cluster's owner turns it on.
    policy_controller: Literal["manage", "existing"] = "existing"
    # How pods reach hosts outside the cluster (S3, STS, grafana.com, receivers, the identity provider).
    # `domain-names`: by name only, through ApplicationNetworkPolicies (EKS Auto Mode's DNS-based rules);
    # `cidr`: 0.0.0.0/0 on the same ports. Unset: domain-names with dns node-local, cidr with kube-dns.
    egress: EgressMode | None = None

    @property
    def egress_mode(self) -> EgressMode:
        return self.egress or ("domain-names" if self.dns == "node-local" else "cidr")

    @model_validator(mode="after")
    def _domain_names_only_on_auto_mode(self) -> "Network":
        if self.egress == "domain-names" and self.dns == "kube-dns":
            # "DNS based rules defined using the ApplicationNetworkPolicy are only applicable to workloads
            # running in EKS Auto Mode-launched EC2 instances" (Use Network Policies with EKS Auto Mode).
            raise ValueError("egress=domain-names needs dns: node-local (EKS Auto Mode): AWS applies DNS-based rules "
                             "only on Auto Mode nodes; with dns: kube-dns (standard EKS) set egress: cidr")
        return self

    @field_validator("kube_api_cidrs", mode="after")
    @classmethod
    def _api_server_by_default(cls, value: list[str] | None, info: ValidationInfo) -> list[str]:
        if value is not None:
            return value
        service_cidr = info.data.get("service_cidr")
        blocks = [service_cidr] if service_cidr else EKS_SERVICE_CIDRS
        return [f"{ipaddress.IPv4Network(block).network_address + 1}/32" for block in blocks]

    @model_validator(mode="after")
    def _service_cidr_holds_the_dns_address(self) -> "Network":
        value = self.service_cidr
        if value is not None:
            try:
                network = ipaddress.IPv4Network(value)
            except ValueError:
                raise ValueError(f"service_cidr={value} must be an IPv4 network such as 172.20.0.0/16") from None
            if network.num_addresses < 16:
                raise ValueError(f"service_cidr={value} must hold the cluster DNS address (its .10): a /28 or larger")
        return self


DNS_PORTS = [Port("dns", 53, "UDP"), Port("dns-tcp", 53, "TCP")]
KUBE_DNS = {"k8s-app": "kube-dns"}
# "If you don't specify this, then Kubernetes assigns service IP addresses from either the 10.100.0.0/16
# or 172.20.0.0/16 CIDR blocks" (EKS user guide, "Create an Amazon EKS cluster").
EKS_SERVICE_CIDRS = ("10.100.0.0/16", "172.20.0.0/16")


def dns_addresses(network: Network) -> list[str]:
    """The cluster DNS address pods have in /etc/resolv.conf: the .10 of the service CIDR (of both EKS
    defaults while network.service_cidr is unset)."""
    blocks = [network.service_cidr] if network.service_cidr else EKS_SERVICE_CIDRS
    return [str(ipaddress.IPv4Network(block).network_address + 10) for block in blocks]


def dns_rule(network: Network) -> Rule:
    """Egress to the resolver pods really use. Auto Mode: the cluster DNS address by /32 ipBlock, the rule
    AWS's own network policy agent tests use on Auto clusters (aws/aws-network-policy-agent,
    test/integration: dnsCIDRAddress when IsAutoCluster); the node-local CoreDNS has no pods to select.
    A /32 also keeps an `except` of another rule from overriding it (the agent matches the longest prefix)."""
    if network.dns == "kube-dns":
        return rule([pods(KUBE_DNS, "kube-system")], DNS_PORTS)
    return rule(cidrs([f"{address}/32" for address in dns_addresses(network)]), DNS_PORTS)


def _labels(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": component, "app.kubernetes.io/part-of": PART_OF}


POD_SECURITY = "pod-security.kubernetes.io"
AGENTS_REASON = ("node agents read the host: node-exporter (hostNetwork, read-only hostPath /, /proc, /sys), "
                 "OTeBPF (hostPID, eBPF capabilities), Fluent Bit (root to read hostPath /var/log); each pod says why "
                 "in monitoring.openemr.io/host-access")


class Namespace(Construct):
    """Two namespaces. The stack's enforces Pod Security `restricted` with no exception. The node agents'
    enforces `privileged` (they need the host; the reason is on the Namespace and on each pod) and audits
    `baseline`, so that applying the stack raises no warning while the audit log still shows them."""

    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, "namespace")
        self._namespace(ctx.config.namespace, "monitoring-namespace",
                        {"enforce": "restricted", "audit": "restricted", "warn": "restricted"})
        self._namespace(ctx.config.agents_namespace, "monitoring-agents-namespace",
                        {"enforce": "privileged", "audit": "baseline"}, {f"{POD_SECURITY}/reason": AGENTS_REASON})

    def _namespace(self, name: str, component: str, levels: dict[str, str], annotations: dict | None = None) -> None:
        # Flux never prunes them: a renamed or removed Kustomization must not delete the namespace and,
        # with it, every volume of monitoring data in it.
        annotations = {**(annotations or {}), "kustomize.toolkit.fluxcd.io/prune": "disabled"}
        labels = {**_labels(component), NAMESPACE_NAME_LABEL: name}
        for mode, level in levels.items():
            labels[f"{POD_SECURITY}/{mode}"] = level
            labels[f"{POD_SECURITY}/{mode}-version"] = "latest"
        k.KubeNamespace(self, name, metadata=k.ObjectMeta(name=name, labels=labels, annotations=annotations))


class EncryptedStorageClass(Construct):
    """gp3, encrypted, for EKS Auto Mode's built-in EBS driver. Identical in every overlay unless a
    KMS key is set, so the same cluster-scoped object never differs between two installs."""

    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, "storage-class")
        storage = ctx.config.storage
        parameters = {"type": "gp3", "encrypted": "true"}
        if storage.kms_key_id:
            parameters["kmsKeyId"] = storage.kms_key_id
        k.KubeStorageClass(
            self, "storage-class",
            metadata=k.ObjectMeta(name=storage.class_name, labels=_labels("storage")),
            provisioner="ebs.csi.eks.amazonaws.com",
            parameters=parameters,
            reclaim_policy="Retain",
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
        )


class NetworkBaseline(Construct):
    """Deny all traffic in both namespaces, then allow DNS (network.dns); components add their own flows."""

    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, "network-baseline")
        for namespace in (ctx.config.namespace, ctx.config.agents_namespace):
            scope = Construct(self, namespace)

            def meta(name: str) -> k.ObjectMeta:
                return k.ObjectMeta(name=name, namespace=namespace, labels=_labels("network-policy"))

            network_policy(scope, meta("default-deny"), {}, Policy())
            network_policy(scope, meta("allow-dns"), {}, Policy(egress=[dns_rule(ctx.config.network)]),
                           policy_types=("Egress",))
