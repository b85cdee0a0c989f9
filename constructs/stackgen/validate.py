"""Validate a rendered tree: every object against its schema, then the cross-reference checks.

Core kinds: kubernetes-validate's JSON schemas in strict mode (unknown fields are errors), for the
oldest and newest Kubernetes versions supported. Custom resources: the openAPIV3Schema of the pinned
CRD (../shared/crds), made strict the way the API server's field validation is (no unknown fields
where the schema does not preserve them). kubeconform is used in addition when it is on PATH.
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

from stackgen import checks, manifests

SUPPORTED_KUBERNETES = ("1.29.0", "1.37.0")
ROOT = Path(__file__).resolve().parents[2]
CRD_DIR = ROOT.parent / "shared" / "crds"
CUSTOM_GROUPS = ("monitoring.coreos.com/", "external-secrets.io/", "kustomize.toolkit.fluxcd.io/",
                 "source.toolkit.fluxcd.io/", "elasticsearch.k8s.elastic.co/", "kibana.k8s.elastic.co/")


STAGES = ("", "operators")  # an overlay's kustomizations: the stack, and the operators applied before it


def load_tree(directory: Path) -> list[dict]:
    """Every object an overlay applies: the stack and its operators stage."""
    objects = []
    for path in sorted(p for stage in STAGES for p in (directory / stage).glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        objects += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return objects


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


class _CrdLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML 1.1 reads a bare `=` (a relabel action in these CRDs) as a special tag; it is a string."""


_CrdLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


@functools.cache
def crd_schemas() -> dict[tuple[str, str], dict]:
    schemas = {}
    for path in sorted(CRD_DIR.glob("*/*.yaml")):
        # One CRD a file, or several in one stream (ECK ships all-crds.yaml).
        for crd in yaml.load_all(path.read_text(), Loader=_CrdLoader):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                schemas[(f"{group}/{version['name']}", kind)] = _strict(version["schema"]["openAPIV3Schema"])
    return schemas


def schema_problems(obj: dict, kubernetes_versions: tuple[str, ...]) -> list[str]:
    where = manifests.ref(obj)
    if obj["apiVersion"].startswith(CUSTOM_GROUPS):
        if not CRD_DIR.is_dir():
            return []
        schema = crd_schemas().get((obj["apiVersion"], obj["kind"]))
        if schema is None:
            return [f"{where}: no pinned CRD defines {obj['apiVersion']} {obj['kind']}"]
        validator = jsonschema.Draft7Validator(schema)
        return [f"{where}: {'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]
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
    problems = []
    for stage in STAGES:
        where = directory / stage
        kustomization = yaml.safe_load((where / "kustomization.yaml").read_text())
        listed = set(kustomization["resources"])
        present = {p.name for p in where.glob("*.yaml")} - {"kustomization.yaml"}
        name = f"{directory.name}/{stage}/kustomization.yaml".replace("//", "/")
        problems += [f"{name}: lists missing {file}" for file in sorted(listed - present)]
        problems += [f"{name}: does not list {file}" for file in sorted(present - listed)]
    return problems


def kubeconform_problems(directory: Path, version: str) -> list[str]:
    if not shutil.which("kubeconform"):
        return []
    result = subprocess.run(["kubeconform", "-strict", "-summary", "-ignore-missing-schemas",
                             "-kubernetes-version", version, str(directory)], capture_output=True, text=True)
    return [] if result.returncode == 0 else [f"kubeconform {directory.name}: {result.stdout}{result.stderr}"]


def validate_overlay(directory: Path, kubernetes_versions: tuple[str, ...] = SUPPORTED_KUBERNETES) -> list[str]:
    objects = load_tree(directory)
    problems = kustomization_problems(directory)
    for obj in objects:
        problems += schema_problems(obj, kubernetes_versions)
    problems += checks.check_all(objects)
    for version in kubernetes_versions:
        problems += kubeconform_problems(directory, version)
    return [f"{directory.name}: {p}" for p in problems]


def validate_tree(dist: Path, kubernetes_versions: list[str] | None = None) -> list[str]:
    versions = tuple(kubernetes_versions or SUPPORTED_KUBERNETES)
    if not CRD_DIR.is_dir():
        print(f"note: {CRD_DIR} is absent: custom resources are not checked against their CRD schemas")
    problems = []
    for directory in sorted(p for p in dist.iterdir() if p.is_dir() and p.name not in ("crds", "flux")):
        problems += validate_overlay(directory, versions)
    return problems + validate_flux(dist)


def validate_flux(dist: Path) -> list[str]:
    """dist/flux/<overlay>.yaml: valid Kustomizations whose paths exist and whose stages depend in order."""
    problems = []
    for path in sorted((dist / "flux").glob("*.yaml")):
        stages = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        # The path prefix (dist/ as the source sees it) is what precedes the CRDs stage's `/crds`.
        prefix = next((s["spec"]["path"][:-len("/crds")] for s in stages if s["spec"]["path"].endswith("/crds")), "")
        names = set()
        for stage in stages:
            where = f"flux/{path.name}: {stage['metadata']['name']}"
            problems += [f"flux/{path.name}: {p}" for p in schema_problems(stage, ())]
            target = dist / stage["spec"]["path"].removeprefix(prefix).lstrip("/")
            if not (target / "kustomization.yaml").exists():
                problems.append(f"{where}: path {stage['spec']['path']} has no kustomization.yaml in dist/")
            if stage["spec"].get("wait") and stage["spec"].get("healthChecks"):
                problems.append(f"{where}: healthChecks are ignored while wait is true (use healthCheckExprs)")
            missing = [d["name"] for d in stage["spec"].get("dependsOn", []) if d["name"] not in names]
            problems += [f"{where}: depends on {name}, which is not applied before it" for name in missing]
            names.add(stage["metadata"]["name"])
    return problems
