"""What each Flux stage applies, read from the rendered tree: dist/flux/<overlay>.yaml lists the stages
(Flux Kustomizations, in apply order: each depends on the one before); each stage's path is a kustomization whose `resources` are files
or other kustomization directories, resolved here recursively. Nothing is hard-coded about the stages."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from stackgen.crds import CrdLoader

REMOTE = ("http://", "https://")




class TreeError(Exception):
    """The rendered tree cannot be read (bad input: exit 2)."""


@dataclass(frozen=True)
class Stage:
    name: str
    namespace: str  # Flux's namespace (where the Kustomization and its source live)
    source_kind: str
    source_name: str
    prune: bool
    objects: tuple[dict, ...] = ()
    remote: tuple[str, ...] = ()  # resources kustomize fetches at apply time: not readable offline

    def of_kind(self, kind: str) -> list[dict]:
        return [o for o in self.objects if o.get("kind") == kind]


def object_name(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta['namespace']}/{meta.get('name')}" if meta.get("namespace") else str(meta.get("name"))


def load_stages(dist: Path, overlay: str, path_prefix: str) -> list[Stage]:
    """The stages of dist/flux/<overlay>.yaml, each with every object its path resolves to."""
    delivery = dist / "flux" / f"{overlay}.yaml"
    if not delivery.is_file():
        raise TreeError(f"{delivery} does not exist: render the overlay first (python main.py --overlay {overlay})")
    stages = []
    for doc in _documents(delivery):
        if doc.get("kind") != "Kustomization" or not str(doc.get("apiVersion", "")).startswith("kustomize.toolkit.fluxcd.io/"):
            continue
        spec, meta = doc.get("spec") or {}, doc.get("metadata") or {}
        objects, remote = _resolve(_local(dist, str(spec.get("path", "")), path_prefix, delivery), set())
        source = spec.get("sourceRef") or {}
        stages.append(Stage(
            name=meta.get("name", ""), namespace=meta.get("namespace", "flux-system"),
            source_kind=source.get("kind", ""), source_name=source.get("name", ""),
            prune=bool(spec.get("prune")),
            objects=tuple(objects), remote=tuple(remote)))
    if not stages:
        raise TreeError(f"{delivery} holds no Flux Kustomization")
    return stages


def _local(dist: Path, path: str, prefix: str, where: Path) -> Path:
    """./dist/hospital/crds (Flux's view, from the source's root) -> <dist>/hospital/crds."""
    relative, root = path.removeprefix("./").rstrip("/"), prefix.removeprefix("./").rstrip("/")
    if relative != root and not relative.startswith(root + "/"):
        raise TreeError(f"{where}: spec.path {path!r} is not under flux.path_prefix {prefix!r}")
    return dist / relative[len(root):].lstrip("/")


def _resolve(directory: Path, seen: set[Path]) -> tuple[list[dict], list[str]]:
    """Every object a kustomization directory applies, and the remote resources it names."""
    directory = directory.resolve()
    kustomization = directory / "kustomization.yaml"
    if not kustomization.is_file():
        raise TreeError(f"{directory} holds no kustomization.yaml")
    if directory in seen:
        raise TreeError(f"{kustomization}: includes itself through its resources")
    seen = seen | {directory}
    objects: list[dict] = []
    remote: list[str] = []
    for resource in (_documents(kustomization) or [{}])[0].get("resources") or []:
        if str(resource).startswith(REMOTE):
            remote.append(str(resource))
            continue
        target = directory / resource
        if target.is_dir():
            more, more_remote = _resolve(target, seen)
            objects += more
            remote += more_remote
        elif target.is_file():
            objects += _documents(target)
        else:
            raise TreeError(f"{kustomization}: resource {resource!r} does not exist")
    return objects, remote


def _documents(path: Path) -> list[dict]:
    try:
        # libyaml, and upstream CRDs' bare `=` read as the string it is
        return [doc for doc in yaml.load_all(path.read_text(), Loader=CrdLoader) if isinstance(doc, dict)]
    except yaml.YAMLError as error:
        raise TreeError(f"{path}: not YAML: {error}") from None
