"""Validate a rendered tree: every object against its schema, then the cross-reference checks.

Core kinds: kubernetes-validate's JSON schemas in strict mode (unknown fields are errors), for the
oldest and newest Kubernetes versions supported. Custom resources: the openAPIV3Schema of the pinned
CRD (vendored in imports/crds/, the files dist/crds/ applies byte for byte), made strict the way the
API server's field validation is (no unknown fields where the schema does not preserve them); EKS Auto
Mode's NodeClass, which has no public CRD, against the fields AWS documents (node_class_fields.py).
kubeconform is used in addition when it is on PATH.
"""
from __future__ import annotations

import copy
import functools
import shutil
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

from stackgen import checks, crds, manifests, node_class_fields
from stackgen.checks.delivery import resource_metrics_problems

SUPPORTED_KUBERNETES = ("1.29.0", "1.37.0")
# Rendered by this project: an overlay's kustomizations, in the order Flux applies them (dist/flux/), the
# stack last. Custom resources are those of a kind no Kubernetes schema defines.
STAGES = ("crds", "platform", "operators", "")


def stage_objects(directory: Path) -> list[dict]:
    """The objects one kustomization applies: its files, and the kustomizations it lists (dist/crds/<set>)."""
    kustomization = directory / "kustomization.yaml"
    if not kustomization.exists():
        return []
    objects = []
    for resource in yaml.safe_load(kustomization.read_text())["resources"]:
        path = (directory / resource).resolve()
        if path.is_dir():
            objects += stage_objects(path)
        else:
            objects += [doc for doc in yaml.load_all(path.read_text(), Loader=crds.CrdLoader) if doc]
    return objects


def load_tree(directory: Path, with_platform: bool = False, with_crds: bool = False) -> list[dict]:
    """The stack an overlay applies: its operators stage and itself. With the platform add-ons (cluster-wide,
    outside the stack's namespaces and budget) and the CRDs (they are large) only when asked."""
    wanted = {"operators", ""} | ({"platform"} if with_platform else set()) | ({"crds"} if with_crds else set())
    return [obj for stage in STAGES if stage in wanted for obj in stage_objects(directory / stage)]


def _strict(schema: dict) -> dict:
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node and \
                    not node.get("x-kubernetes-preserve-unknown-fields") and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(schema)
    # The API server accepts these on every object; CRD schemas do not list them.
    schema.setdefault("properties", {}).update({"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                 "metadata": {"type": "object"}})
    return schema


@functools.cache
def crd_schemas() -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> strict schema, for every vendored CRD set and Auto Mode's NodeClass."""
    return {(f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"]):
            _strict(version["schema"]["openAPIV3Schema"])
            for crd_set in crds.SETS for crd in crds.documents(crd_set) for version in crd["spec"]["versions"]} | {
        (node_class_fields.API_VERSION, node_class_fields.KIND): _strict(node_class_fields.SCHEMA)}


def is_custom(obj: dict) -> bool:
    """A kind Kubernetes itself does not define (its group is a CRD's)."""
    group = obj["apiVersion"].rpartition("/")[0]
    return "." in group and not group.endswith(".k8s.io")


def schema_problems(obj: dict, kubernetes_versions: tuple[str, ...]) -> list[str]:
    where = manifests.ref(obj)
    if is_custom(obj):
        schema = crd_schemas().get((obj["apiVersion"], obj["kind"]))
        if schema is None:
            return [f"{where}: no pinned CRD defines {obj['apiVersion']} {obj['kind']}"]
        validator = jsonschema.Draft7Validator(schema)
        found = [f"{where}: {'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]
        if (obj["apiVersion"], obj["kind"]) == (node_class_fields.API_VERSION, node_class_fields.KIND):
            found += [f"{where}: {p}" for p in node_class_fields.problems(obj)]
        return found
    problems = []
    for version in kubernetes_versions:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{where} (Kubernetes {version}): {'.'.join(map(str, error.path))}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{where} (Kubernetes {version}): {obj['apiVersion']} {obj['kind']} does not exist")
    return problems


def kustomization_problems(directory: Path) -> list[str]:
    """Each stage's kustomization lists exactly the files beside it (and kustomizations that exist)."""
    problems = []
    for stage in STAGES:
        where = directory / stage
        name = f"{directory.name}/{stage}/kustomization.yaml".replace("//", "/")
        if not (where / "kustomization.yaml").exists():
            problems.append(f"{name}: missing")
            continue
        resources = yaml.safe_load((where / "kustomization.yaml").read_text())["resources"]
        remote = [r for r in resources if "://" in r]
        problems += [f"{name}: remote resource {r} (fetched at every reconcile; vendor it)" for r in remote]
        listed = {r for r in resources if r not in remote and not (where / r).is_dir()}
        present = {p.name for p in where.glob("*.yaml")} - {"kustomization.yaml"}
        problems += [f"{name}: lists missing {file}" for file in sorted(listed - present)]
        problems += [f"{name}: does not list {file}" for file in sorted(present - listed)]
        problems += [f"{name}: {r} has no kustomization.yaml" for r in resources
                     if (where / r).is_dir() and not (where / r / "kustomization.yaml").exists()]
    return problems


def kubeconform_problems(directory: Path, version: str) -> list[str]:
    if not shutil.which("kubeconform"):
        return []
    result = subprocess.run(["kubeconform", "-strict", "-summary", "-ignore-missing-schemas",
                             "-kubernetes-version", version, str(directory)], capture_output=True, text=True)
    return [] if result.returncode == 0 else [f"kubeconform {directory.name}: {result.stdout}{result.stderr}"]


def validate_overlay(directory: Path, kubernetes_versions: tuple[str, ...] = SUPPORTED_KUBERNETES) -> list[str]:
    objects = load_tree(directory, with_platform=True)
    problems = kustomization_problems(directory)
    for obj in objects:
        problems += schema_problems(obj, kubernetes_versions)
    problems += checks.check_all(objects)
    for version in kubernetes_versions:
        problems += kubeconform_problems(directory, version)
    return [f"{directory.name}: {p}" for p in problems]


def overlay_directories(dist: Path) -> list[Path]:
    return sorted(p for p in dist.iterdir() if p.is_dir() and p.name not in ("crds", "flux"))


def custom_resource_count(dist: Path) -> int:
    """How many rendered objects were checked against a vendored CRD's schema (the Flux stages included)."""
    delivery = [doc for path in (dist / "flux").glob("*.yaml") for doc in yaml.safe_load_all(path.read_text()) if doc]
    return sum(is_custom(obj) for obj in delivery + [o for d in overlay_directories(dist)
                                                      for o in load_tree(d, with_platform=True)])


def validate_tree(dist: Path, kubernetes_versions: list[str] | None = None) -> list[str]:
    versions = tuple(kubernetes_versions or SUPPORTED_KUBERNETES)
    problems = []
    for directory in overlay_directories(dist):
        problems += validate_overlay(directory, versions)
    return problems + vendored_crd_problems(dist) + validate_flux(dist)


def vendored_crd_problems(dist: Path) -> list[str]:
    """dist/crds/<set>/ holds the vendored files byte for byte, and only sets dist/ installs itself."""
    problems = []
    for folder in sorted(p for p in (dist / "crds").iterdir() if p.is_dir()):
        crd_set = next((s for s in crds.SETS if s.folder == folder.name), None)
        if crd_set is None or crd_set.installed_by != "dist":
            problems.append(f"crds/{folder.name}: not a CRD set dist/ installs")
            continue
        for name in crd_set.files:
            if (folder / name).read_bytes() != crds.vendored_path(crd_set, name).read_bytes():
                problems.append(f"crds/{folder.name}/{name}: differs from imports/crds/{folder.name}/{name}")
    return problems


def validate_flux(dist: Path) -> list[str]:
    """dist/flux/<overlay>.yaml: valid Kustomizations whose paths exist, whose stages depend in order, and
    each of whose objects is of a kind the cluster serves by the time its stage applies it."""
    problems = []
    for path in sorted((dist / "flux").glob("*.yaml")):
        stages = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        # The path prefix (dist/ as the source sees it) is what precedes the stack stage's `/<overlay>`.
        prefix = next((s["spec"]["path"][:-len(path.stem) - 1] for s in stages
                       if s["spec"]["path"].endswith(f"/{path.stem}")), "")
        names, served, applied = set(), FLUX_SERVED | AUTO_MODE_SERVED, []
        for stage in stages:
            where = f"flux/{path.name}: {stage['metadata']['name']}"
            problems += [f"flux/{path.name}: {p}" for p in schema_problems(stage, ())]
            if stage["spec"].get("wait") and stage["spec"].get("healthChecks"):
                problems.append(f"{where}: healthChecks are ignored while wait is true (use healthCheckExprs)")
            missing = [d["name"] for d in stage["spec"].get("dependsOn", []) if d["name"] not in names]
            problems += [f"{where}: depends on {name}, which is not applied before it" for name in missing]
            names.add(stage["metadata"]["name"])
            target = dist / stage["spec"]["path"].removeprefix(prefix).lstrip("/")
            if not (target / "kustomization.yaml").exists():
                problems.append(f"{where}: path {stage['spec']['path']} has no kustomization.yaml in dist/")
                continue
            objects = stage_objects(target)
            problems += [f"{where}: {manifests.ref(o)}: kind {o['apiVersion']} {o['kind']} is not served yet "
                         "(no CRD in an earlier stage)" for o in objects if is_custom(o)
                         and (o["apiVersion"], o["kind"]) not in served | crds.served_kinds(objects)]
            served |= delivered_kinds(stage, objects)
            applied.append((stage, objects))
        problems += [f"flux/{path.name}: {p}" for p in resource_metrics_problems(applied)]
    return problems


# What a cluster with nothing but `flux bootstrap` serves beyond Kubernetes itself.
FLUX_SERVED = crds.kinds(crds.FLUX)
# What EKS Auto Mode serves itself: its NodePool (Karpenter's kind), ApplicationNetworkPolicy and NodeClass.
AUTO_MODE_SERVED = {kind for crd_set in crds.SETS if crd_set.installed_by == "cluster" for kind in crds.kinds(crd_set)} | {
    (node_class_fields.API_VERSION, node_class_fields.KIND)}


def delivered_kinds(stage: dict, objects: list[dict]) -> set[tuple[str, str]]:
    """Kinds served once a stage is ready: its CRDs, those its HelmReleases' charts install, and those whose
    existing CRDs its health checks wait for (a piece the cluster already runs: platform.<piece>: existing)."""
    kinds = crds.served_kinds(objects)
    for release in (o for o in objects if o["kind"] == "HelmRelease"):
        chart_set = crds.CHART_CRDS.get(release["spec"]["chart"]["spec"]["chart"])
        kinds |= crds.kinds(chart_set) if chart_set else set()
    waited = {check["name"] for check in stage["spec"].get("healthChecks", [])
              if check["kind"] == "CustomResourceDefinition"}
    return kinds | {kind for crd_set in crds.SETS for crd in crds.documents(crd_set) if crd["metadata"]["name"] in waited
                    for kind in crds.served_kinds([crd])}
