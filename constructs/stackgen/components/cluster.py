"""The namespace, the encrypted StorageClass and the namespace-wide network baseline."""
from __future__ import annotations

import cdk8s_plus_37.k8s as k

from constructs import Construct
from stackgen.context import Context
from stackgen.lib.netpol import NAMESPACE_NAME_LABEL, Policy, network_policy, pods, rule
from stackgen.lib.workload import Port
from stackgen.names import PART_OF
from stackgen.settings import DnsLabel, Model


class Storage(Model):
    class_name: DnsLabel = "gp3-monitoring-encrypted"
    # Customer-managed KMS key (ARN or id); empty means the account's default EBS key.
    kms_key_id: str = ""


class Network(Model):
    # Where the Kubernetes API server is reached from pods (EKS: the cluster endpoint ENIs).
    kube_api_cidrs: list[str] = ["0.0.0.0/0"]
    # Node addresses: node-exporter and the kubelet listen on the host network.
    node_cidrs: list[str] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]


DNS_PORTS = [Port("dns", 53, "UDP"), Port("dns-tcp", 53, "TCP")]
KUBE_DNS = {"k8s-app": "kube-dns"}


def _labels(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": component, "app.kubernetes.io/part-of": PART_OF}


class Namespace(Construct):
    """node-exporter needs host access, so the namespace enforces `privileged`; `restricted` is still
    audited and warned about, so any pod other than the documented exceptions shows up at apply time."""

    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, "namespace")
        k.KubeNamespace(self, "namespace", metadata=k.ObjectMeta(
            name=ctx.namespace,
            labels={
                **_labels("monitoring-namespace"),
                NAMESPACE_NAME_LABEL: ctx.namespace,
                "pod-security.kubernetes.io/enforce": "privileged",
                "pod-security.kubernetes.io/audit": "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
            }))


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
    """Deny all traffic in the namespace, then allow DNS; components add their own flows."""

    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, "network-baseline")
        def meta(name: str) -> k.ObjectMeta:
            return k.ObjectMeta(name=name, namespace=ctx.namespace, labels=_labels("network-policy"))

        network_policy(self, meta("default-deny"), {}, Policy())
        network_policy(self, meta("allow-dns"), {}, Policy(egress=[rule([pods(KUBE_DNS, "kube-system")], DNS_PORTS)]),
                       policy_types=("Egress",))
