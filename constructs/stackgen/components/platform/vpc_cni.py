"""NetworkPolicy enforcement on EKS Auto Mode (network.policy_controller: manage).

"To use network policies with EKS Auto Mode, you first need to enable the Network Policy Controller by
applying a ConfigMap to your cluster" (AWS, "Use Network Policies with EKS Auto Mode", Step 1): the
`amazon-vpc-cni` ConfigMap in kube-system with `enable-network-policy-controller: "true"`. Until then
every NetworkPolicy is accepted and enforces nothing. The ConfigMap is the cluster's, shared with other
teams, so it is rendered only when the overlay says the stack manages it; Flux then owns only this key
(server-side apply) and never prunes the object: removing the option must not switch isolation off for
every namespace of the cluster.
"""
from __future__ import annotations

import cdk8s_plus_37.k8s as k

from constructs import Construct
from stackgen.names import PART_OF

NAME, NAMESPACE, KEY = "amazon-vpc-cni", "kube-system", "enable-network-policy-controller"
# What turns it on by hand, for `existing` (the README and doctor print it).
ENABLE_COMMAND = (f"kubectl patch configmap {NAME} -n {NAMESPACE} --type merge -p "
                  f"'{{\"data\":{{\"{KEY}\":\"true\"}}}}' || kubectl create configmap {NAME} -n {NAMESPACE} "
                  f"--from-literal={KEY}=true")


class NetworkPolicyController(Construct):
    def __init__(self, scope: Construct):
        super().__init__(scope, "network-policy-controller")
        k.KubeConfigMap(self, "config-map", metadata=k.ObjectMeta(
            name=NAME, namespace=NAMESPACE,
            labels={"app.kubernetes.io/name": "network-policy-controller", "app.kubernetes.io/part-of": PART_OF},
            annotations={"kustomize.toolkit.fluxcd.io/prune": "disabled"}), data={KEY: "true"})
