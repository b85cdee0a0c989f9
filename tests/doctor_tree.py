"""A rendered tree for the doctor tests, in the four-stage Flux layout: crds (a shared CRD set included by
directory), platform, operators, stack; each test changes one part of it."""
from __future__ import annotations

import yaml
from overlay_keys import CONFIGURED
from stackgen.names import PART_OF

OVERLAY = "fixture"


def meta(name: str, namespace: str | None = None, **labels: str) -> dict:
    return {"name": name, **({"namespace": namespace} if namespace else {}), **({"labels": labels} if labels else {})}


def crd(group: str, kind: str, plural: str) -> dict:
    # The relabel action enum, as upstream's CRDs hold it (written as a bare `=` below).
    action = {"type": "string", "enum": ["replace", "Replace", "="]}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": meta(f"{plural}.{group}"),
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": {"type": "object", "properties": {"action": action},
                                                                  "x-kubernetes-preserve-unknown-fields": True}}}]}}


def namespace(name: str, **annotations: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {**meta(name, **{"app.kubernetes.io/part-of": PART_OF}), "annotations": annotations}}


PROMETHEUS_CRD = crd("monitoring.coreos.com", "Prometheus", "prometheuses")
SERVICE_MONITOR_CRD = crd("monitoring.coreos.com", "ServiceMonitor", "servicemonitors")
# As rendered, monitoring is never pruned; monitoring-agents is here without that annotation.
OPERATORS = [namespace("monitoring", **{"kustomize.toolkit.fluxcd.io/prune": "disabled"}), namespace("monitoring-agents"),
             {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("prometheus-operator", "monitoring")},
             {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("prometheus-operator", "monitoring"),
              "spec": {"selector": {"matchLabels": {"app": "prometheus-operator"}}}},
             {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": meta("prometheus-operator", "monitoring")}]
STACK = [{"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": meta("gp3-monitoring-encrypted"),
          "provisioner": "ebs.csi.eks.amazonaws.com", "parameters": {"type": "gp3", "encrypted": "true"}},
         {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("loki-config", "monitoring"), "data": {}},
         {"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus", "metadata": meta("main", "monitoring")},
         {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": meta("grafana-admin", "monitoring")},
         {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta("loki-read", "monitoring")}]
# What `platform.external_secrets` / `platform.metrics_server: managed` put in the platform stage.
MANAGED_PLATFORM = [
    {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository", "metadata": meta("external-secrets", "flux-system"),
     "spec": {"interval": "1h", "url": "https://charts.external-secrets.io"}},
    {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "metadata": meta("external-secrets", "flux-system"),
     "spec": {"chart": {"spec": {"chart": "external-secrets", "sourceRef": {"kind": "HelmRepository", "name": "external-secrets"}}}}},
    {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": meta("v1beta1.metrics.k8s.io"),
     "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "service": {"name": "metrics-server", "namespace": "kube-system"}}}]


def write_kustomization(directory, resources: list[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources}))


def write_stage(directory, objects: list[dict], extra: tuple[str, ...] = ()) -> None:
    resources = list(extra)
    if objects:
        (directory).mkdir(parents=True, exist_ok=True)
        # Upstream CRDs write the enum value `=` bare (YAML 1.1's value tag), not quoted as PyYAML does.
        (directory / "objects.yaml").write_text(yaml.safe_dump_all(objects).replace("- '='", "- ="))
        resources.append("objects.yaml")
    write_kustomization(directory, resources)


def flux_stage(name: str, path: str, depends_on: str | None) -> dict:
    spec = {"interval": "10m", "path": path, "prune": name != "monitoring-crds", "wait": True, "timeout": "5m",
            "sourceRef": {"kind": "GitRepository", "name": "observability"}}
    if depends_on:
        spec["dependsOn"] = [{"name": depends_on}]
    return {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": meta(name, "flux-system"), "spec": spec}


def build_tree(root, *, crds=(PROMETHEUS_CRD, SERVICE_MONITOR_CRD), crd_urls=(), platform=(), operators=OPERATORS,
               stack=STACK, prefix="./dist", overlay_prefix=None):
    """overlays/fixture.yaml and its dist/ in the four-stage layout: crds (a shared CRD set, by directory),
    platform, operators, stack. `prefix` is where the Kustomizations find dist/ in the source."""
    (root / "overlays").mkdir(parents=True, exist_ok=True)
    overlay_prefix = overlay_prefix or prefix
    # A configured overlay: no documentation placeholder left (test_doctor's placeholder tests add one back).
    overlay = dict(CONFIGURED, **({} if overlay_prefix == "./dist" else {"flux": {"path_prefix": overlay_prefix}}))
    (root / "overlays" / f"{OVERLAY}.yaml").write_text(yaml.safe_dump(overlay))
    dist = root / "dist"
    write_stage(dist / "crds" / "prometheus-operator", list(crds), crd_urls)
    write_kustomization(dist / OVERLAY / "crds", ["../../crds/prometheus-operator"])
    write_stage(dist / OVERLAY / "platform", list(platform))
    write_stage(dist / OVERLAY / "operators", list(operators))
    write_stage(dist / OVERLAY, list(stack))
    stages = [("monitoring-crds", "crds"), ("monitoring-platform", "platform"), ("monitoring-operators", "operators"),
              ("monitoring-stack", "")]
    (dist / "flux").mkdir(exist_ok=True)
    (dist / "flux" / f"{OVERLAY}.yaml").write_text(yaml.safe_dump_all(
        [flux_stage(name, f"{prefix}/{OVERLAY}/{sub}".rstrip("/"), stages[i - 1][0] if i else None)
         for i, (name, sub) in enumerate(stages)]))
    return root
