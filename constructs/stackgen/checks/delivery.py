"""Checks over the Flux stages together (dist/flux/<overlay>.yaml and what each stage applies).

The resource metrics API: every HPA that scales on CPU or memory reads `metrics.k8s.io`. Either the
platform stage renders its provider (an APIService whose Service selects running pods, whose
ServiceAccount may read the kubelets' metrics and authenticate callers through the API server), or it
waits for the cluster's own (platform.metrics_server: existing; `doctor` checks it is served).
"""
from __future__ import annotations

from stackgen.manifests import Manifests, ref

METRICS_API = "v1beta1.metrics.k8s.io"
# What an aggregated metrics server needs (kubernetes-sigs/metrics-server manifests/base/rbac.yaml).
NODE_METRICS = ("", "nodes/metrics", "get")
AUTH_DELEGATOR = "system:auth-delegator"
AUTH_READER = "extension-apiserver-authentication-reader"


def _grants(role: dict, group: str, resource: str, verb: str) -> bool:
    return any(group in rule.get("apiGroups", []) and resource in rule.get("resources", []) and
               verb in rule.get("verbs", []) for rule in role.get("rules", []))


def _bound(m: Manifests, kind: str, role_kind: str, role: str, account: tuple[str, str]) -> bool:
    return any(b["roleRef"]["kind"] == role_kind and b["roleRef"]["name"] == role and
               any((s["name"], s.get("namespace")) == account for s in b.get("subjects", []))
               for b in m.of_kind(kind))


def provider_problems(m: Manifests, api_service: dict) -> list[str]:
    """What is missing between the APIService and the kubelets' metrics."""
    backend = api_service["spec"]["service"]
    service = m.find("Service", backend["name"], backend["namespace"])
    if service is None:
        return [f"{ref(api_service)}: Service {backend['namespace']}/{backend['name']} not rendered"]
    selector = service["spec"]["selector"]
    workloads = [w for w in m.of_kind("Deployment") if w["metadata"]["namespace"] == backend["namespace"] and
                 selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()]
    if not workloads:
        return [f"{ref(api_service)}: Service {backend['name']} selects no Deployment"]
    account = (workloads[0]["spec"]["template"]["spec"]["serviceAccountName"], backend["namespace"])
    problems = []
    if not any(_grants(r, *NODE_METRICS) and _bound(m, "ClusterRoleBinding", "ClusterRole", r["metadata"]["name"], account)
               for r in m.of_kind("ClusterRole")):
        problems.append(f"{ref(api_service)}: {account[0]} may not get nodes/metrics (the kubelets' resource metrics)")
    if not _bound(m, "ClusterRoleBinding", "ClusterRole", AUTH_DELEGATOR, account):
        problems.append(f"{ref(api_service)}: {account[0]} is not bound to {AUTH_DELEGATOR}")
    if not _bound(m, "RoleBinding", "Role", AUTH_READER, account):
        problems.append(f"{ref(api_service)}: {account[0]} is not bound to {AUTH_READER} in kube-system")
    return problems


def resource_metrics_problems(stages: list[tuple[dict, list[dict]]]) -> list[str]:
    """`stages`: each Flux Kustomization with the objects it applies, in order."""
    everything = [obj for _, objects in stages for obj in objects]
    hpas = [h for h in everything if h["kind"] == "HorizontalPodAutoscaler" and
            any(metric["type"] == "Resource" for metric in h["spec"].get("metrics", []))]
    if not hpas:
        return []
    waits = any(check["kind"] == "APIService" and check["name"] == METRICS_API
                for stage, _ in stages for check in stage["spec"].get("healthChecks", []))
    m = Manifests(everything)
    api_service = m.find("APIService", METRICS_API)
    if api_service is not None:
        return provider_problems(m, api_service)
    if waits:
        return []
    return [f"{ref(hpas[0])} and {len(hpas) - 1} more HPAs scale on resource metrics, but no stage renders "
            f"{METRICS_API} or waits for the cluster's (platform.metrics_server)"]
