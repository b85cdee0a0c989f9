"""The pinned CustomResourceDefinitions: where each set comes from, who installs it, where it is kept.

Every CRD file the project applies or validates against is vendored, unmodified, into
`imports/crds/<set>/` by `tools/import_pinned.py` (`pipenv run vendor`), which records each file's upstream
URL and sha256 in `imports/crds/SOURCES.yaml`. Nothing reads them from anywhere else, so a user's clone
validates everything on its own.

Who installs a set decides where it goes:
- `dist`: synth copies the files byte for byte into `dist/crds/<set>/`, and each overlay's CRD stage
  (`dist/<overlay>/crds/`) lists the sets it needs: ECK's only where the overlay renders Elasticsearch.
  A CRD upgrade is then a file change in the pull request, and Flux fetches nothing at reconcile time.
- `chart`: the platform stage's HelmRelease installs them with the operator (External Secrets: its
  chart installs about twenty CRDs, generators included, of which the stack uses three; the controller
  starts reconcilers for all of them). The vendored files are the schemas of those three at the chart's
  version, for validation only.
- `flux`: `flux bootstrap` installs them (Flux's own kinds, which dist/flux/ uses).
- `cluster`: the cluster serves them itself: EKS Auto Mode's `karpenter.sh/v1` NodePool (the node layer,
  components/platform/nodes.py) and `networking.k8s.aws/v1alpha1` ApplicationNetworkPolicy (DNS-based
  egress, lib/netpol.py). The vendored files are upstream's schemas at the pinned tags, for validation
  only. Auto Mode's other kind, `eks.amazonaws.com/v1` NodeClass, has no public CRD file:
  node_class_fields.py checks it against AWS's documented fields instead.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

ROOT = Path(__file__).resolve().parents[2]
VENDORED = ROOT / "imports" / "crds"
SOURCES = VENDORED / "SOURCES.yaml"


@dataclass(frozen=True)
class CrdSet:
    folder: str
    installed_by: Literal["dist", "chart", "flux", "cluster"]
    # Upstream location of each file at the pinned tag (file name -> URL), recorded by tools/import_pinned.py.
    upstream: dict[str, str]
    # False: the vendoring tool's source folder does not hold the set; its vendored files and their record
    # are kept as they are, and `--check` verifies them against the recorded sha256.
    from_source: bool = True

    @property
    def files(self) -> list[str]:
        return sorted(self.upstream)


def _at(base: str, *names: str) -> dict[str, str]:
    return {name: f"{base}/{name}" for name in names}


_PROMETHEUS_OPERATOR = "https://raw.githubusercontent.com/prometheus-operator/prometheus-operator/v0.93.0/example/prometheus-operator-crd"
_ESO = "https://raw.githubusercontent.com/external-secrets/external-secrets/v2.9.0/config/crds/bases"
_FLUX = "https://raw.githubusercontent.com/fluxcd/{}/{}/config/crd/bases"

PROMETHEUS_OPERATOR = CrdSet("prometheus-operator-v0.93.0", "dist", _at(_PROMETHEUS_OPERATOR, *(
    f"monitoring.coreos.com_{name}.yaml" for name in (
        "alertmanagerconfigs", "alertmanagers", "podmonitors", "probes", "prometheusagents", "prometheuses",
        "prometheusrules", "scrapeconfigs", "servicemonitors", "thanosrulers"))))
ECK = CrdSet("eck-v3.5.0", "dist", {
    "all-crds.yaml": "https://raw.githubusercontent.com/elastic/cloud-on-k8s/v3.5.0/config/crds/v1/all-crds.yaml"})
EXTERNAL_SECRETS = CrdSet("external-secrets-v2.9.0", "chart", _at(_ESO, *(
    f"external-secrets.io_{name}.yaml" for name in ("clustersecretstores", "externalsecrets", "secretstores"))))
FLUX = CrdSet("flux-v2.9", "flux", {
    **_at(_FLUX.format("kustomize-controller", "v1.9.4"), "kustomize.toolkit.fluxcd.io_kustomizations.yaml"),
    **_at(_FLUX.format("source-controller", "v1.9.1"), *(
        f"source.toolkit.fluxcd.io_{name}.yaml" for name in ("gitrepositories", "helmcharts", "helmrepositories",
                                                             "ocirepositories"))),
    **_at(_FLUX.format("helm-controller", "v1.6.3"), "helm.toolkit.fluxcd.io_helmreleases.yaml"),
})
# The NodePool kind EKS Auto Mode serves (karpenter.sh/v1); aws/karpenter-provider-aws publishes its CRD.
KARPENTER = CrdSet("karpenter-v1.14.1", "cluster", {
    "karpenter.sh_nodepools.yaml":
        "https://raw.githubusercontent.com/aws/karpenter-provider-aws/v1.14.1/pkg/apis/crds/karpenter.sh_nodepools.yaml"})
# cert-manager's own kinds (cert-manager.io/v1), applied by the CRD stage; its chart runs with crds.enabled false.
CERT_MANAGER = CrdSet("cert-manager-v1.21.1", "dist", _at(
    "https://raw.githubusercontent.com/cert-manager/cert-manager/v1.21.1/deploy/crds",
    *(f"cert-manager.io_{name}.yaml" for name in ("certificaterequests", "certificates", "clusterissuers", "issuers"))))
# The DNS-based egress kind EKS Auto Mode serves (networking.k8s.aws/v1alpha1 ApplicationNetworkPolicy, rendered
# with network.egress: domain-names, lib/netpol.py); aws/amazon-network-policy-controller-k8s publishes its CRD.
# Not in the vendoring source: vendored by hand from the tag below and verified by its recorded sha256 only.
NETWORK_POLICY_CONTROLLER = CrdSet("network-policy-controller-v1.1.7", "cluster", {
    "networking.k8s.aws_applicationnetworkpolicies.yaml":
        "https://raw.githubusercontent.com/aws/amazon-network-policy-controller-k8s/v1.1.7/config/crd/bases/"
        "networking.k8s.aws_applicationnetworkpolicies.yaml"}, from_source=False)
SETS = (PROMETHEUS_OPERATOR, ECK, CERT_MANAGER, EXTERNAL_SECRETS, FLUX, KARPENTER, NETWORK_POLICY_CONTROLLER)


def vendored_path(crd_set: CrdSet, name: str) -> Path:
    return VENDORED / crd_set.folder / name


class CrdLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML 1.1 reads a bare `=` (a relabel action in these CRDs) as a special tag; it is a string."""


CrdLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def documents(crd_set: CrdSet) -> tuple[dict, ...]:
    """The CustomResourceDefinitions of a set (one a file, or several in one stream: ECK's all-crds.yaml)."""
    return _documents(crd_set.folder, tuple(crd_set.files))


@functools.cache
def _documents(folder: str, files: tuple[str, ...]) -> tuple[dict, ...]:
    return tuple(doc for name in files for doc in yaml.load_all((VENDORED / folder / name).read_text(), Loader=CrdLoader)
                 if doc and doc.get("kind") == "CustomResourceDefinition")


def served_kinds(objects) -> set[tuple[str, str]]:
    """(apiVersion, kind) of every served version of the CustomResourceDefinitions among `objects`."""
    return {(f"{spec.get('group')}/{version.get('name')}", (spec.get("names") or {}).get("kind"))
            for obj in objects if obj.get("kind") == "CustomResourceDefinition"
            for spec in [obj.get("spec") or {}] for version in spec.get("versions") or [] if version.get("served")}


def kinds(crd_set: CrdSet) -> frozenset[tuple[str, str]]:
    """(apiVersion, kind) of every served version the set defines."""
    return frozenset(served_kinds(documents(crd_set)))


# Helm charts the platform stage installs that bring their own CRDs (chart name -> the pinned schemas).
CHART_CRDS = {"external-secrets": EXTERNAL_SECRETS}


def for_kind(api_version: str, kind: str) -> list[str]:
    """Names of the vendored CRDs that define a kind (what a stage's health check waits for)."""
    return [crd["metadata"]["name"] for crd_set in SETS for crd in documents(crd_set)
            if crd["spec"]["group"] == api_version.rpartition("/")[0] and crd["spec"]["names"]["kind"] == kind]
