"""A component's ServiceAccount's rights: cluster-wide (ClusterRole) or in one namespace (Role), written once."""
from __future__ import annotations

from dataclasses import dataclass

import cdk8s_plus_37.k8s as k

from constructs import Construct
from stackgen.lib.meta import Identity

READ = ("get", "list", "watch")


@dataclass(frozen=True)
class Grant:
    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...] = READ

    def render(self) -> k.PolicyRule:
        return k.PolicyRule(api_groups=list(self.api_groups), resources=list(self.resources),
                            verbs=list(self.verbs))


def role(scope: Construct, identity: Identity, rules: list[k.PolicyRule], namespace: str | None = None) -> None:
    """A Role and its binding to the component's ServiceAccount, in `namespace` (default: the component's)."""
    namespace = namespace or identity.namespace
    suffix = "" if namespace == identity.namespace else f"-{namespace}"
    meta = k.ObjectMeta(name=identity.name, namespace=namespace, labels=identity.labels)
    k.KubeRole(scope, f"role{suffix}", metadata=meta, rules=rules)
    k.KubeRoleBinding(scope, f"role-binding{suffix}", metadata=meta,
                      role_ref=k.RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name=identity.name),
                      subjects=[k.Subject(kind="ServiceAccount", name=identity.name, namespace=identity.namespace)])


def cluster_role(scope: Construct, identity: Identity, grants: list[Grant],
                 non_resource_urls: list[str] | None = None) -> None:
    """A ClusterRole and its binding to the component's ServiceAccount, named after the namespace."""
    name = identity.cluster_name()
    rules = [g.render() for g in grants]
    if non_resource_urls:
        rules.append(k.PolicyRule(non_resource_ur_ls=non_resource_urls, verbs=["get"]))
    k.KubeClusterRole(scope, "cluster-role", metadata=identity.meta(name, namespaced=False), rules=rules)
    k.KubeClusterRoleBinding(
        scope, "cluster-role-binding", metadata=identity.meta(name, namespaced=False),
        role_ref=k.RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=name),
        subjects=[k.Subject(kind="ServiceAccount", name=identity.name, namespace=identity.namespace)],
    )
