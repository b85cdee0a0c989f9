"""Checks 1 and 2: Flux serves every kind the delivery needs, its controllers run, the source is Ready."""
from __future__ import annotations

from stackgen.aws.report import Check
from stackgen.doctor.cluster import condition, group_version
from stackgen.doctor.inputs import Inputs

FLUX_GROUP = ".toolkit.fluxcd.io"
KUSTOMIZATION_API = "kustomize.toolkit.fluxcd.io/v1"
SOURCE_API = "source.toolkit.fluxcd.io/v1"  # GitRepository and OCIRepository alike
INSTALL = "install Flux: flux bootstrap git --url=<cluster repository> --path=clusters/<cluster> (or flux install)"


def is_flux(api_version: str) -> bool:
    return group_version(api_version)[0].endswith(FLUX_GROUP)


def flux_kinds(inputs: Inputs) -> list[tuple[str, str]]:
    """The Kustomizations themselves, their sources, and every Flux kind a stage applies (HelmRelease...)."""
    needed = {(KUSTOMIZATION_API, "Kustomization")}
    needed |= {(SOURCE_API, stage.source_kind) for stage in inputs.stages}
    needed |= {(o["apiVersion"], o["kind"]) for stage in inputs.stages for o in stage.objects
               if is_flux(o.get("apiVersion", ""))}
    return sorted(needed)


def controller(api_version: str) -> str:
    # Flux's controllers are named after their API group: source.toolkit.fluxcd.io -> source-controller,
    # helm.toolkit.fluxcd.io -> helm-controller (fluxcd.io/flux/installation/configuration/optional-components).
    return group_version(api_version)[0].split(".")[0] + "-controller"


def flux_installed(inputs: Inputs) -> list[Check]:
    kinds = flux_kinds(inputs)
    checks = []
    for api_version, kind in kinds:
        served = inputs.cluster.serves(api_version, kind)
        checks.append(Check("Flux API served", f"{api_version} {kind}", "pass" if served else "fail",
                            "served by the cluster" if served else
                            f"not served: Flux is not installed, or without {controller(api_version)}",
                            "" if served else INSTALL))
    for namespace in sorted({stage.namespace for stage in inputs.stages}):
        for name in sorted({controller(api_version) for api_version, _ in kinds}):
            checks.append(_controller(inputs, namespace, name))
    return checks


def _controller(inputs: Inputs, namespace: str, name: str) -> Check:
    target = f"Deployment {namespace}/{name}"
    deployment = inputs.cluster.deployment(namespace, name)
    if deployment is None:
        return Check("Flux controller running", target, "fail", "does not exist",
                     f"{INSTALL}; {name} must be among --components")
    status, message = condition(deployment, "Available")
    available = (deployment.get("status") or {}).get("availableReplicas") or 0
    replicas = f"{available}/{(deployment.get('spec') or {}).get('replicas', 1)} available"
    if status != "True":
        return Check("Flux controller running", target, "fail", f"not Available ({replicas}): {message or 'no condition yet'}",
                     f"kubectl -n {namespace} describe deployment {name}; flux check")
    return Check("Flux controller running", target, "pass", replicas)


def source_ready(inputs: Inputs) -> list[Check]:
    return [_source(inputs, namespace, kind, name)
            for namespace, kind, name in sorted({(s.namespace, s.source_kind, s.source_name) for s in inputs.stages})]


def _source(inputs: Inputs, namespace: str, kind: str, name: str) -> Check:
    target = f"{kind} {namespace}/{name}"
    if not inputs.cluster.serves(SOURCE_API, kind):
        return Check("Flux source Ready", target, "fail", f"cannot exist: {SOURCE_API} {kind} is not served", INSTALL)
    source = inputs.cluster.custom_object(SOURCE_API, kind, namespace, name)
    cli_kind = "oci" if kind == "OCIRepository" else "git"  # flux create|get|reconcile source git|oci
    if source is None:
        where = "--url=oci://<registry>/<repository> --tag=<tag>" if cli_kind == "oci" else "--url=<this repository> --branch=<branch>"
        return Check("Flux source Ready", target, "fail", "does not exist",
                     f"name the existing source in flux.source_kind/flux.source_name of overlays/{inputs.overlay}.yaml, "
                     f"or create it: flux create source {cli_kind} {name} {where} --namespace={namespace}")
    status, message = condition(source, "Ready")
    if status != "True":
        return Check("Flux source Ready", target, "fail", f"not Ready: {message or 'no condition yet'}",
                     f"flux get sources {cli_kind} -n {namespace}; flux reconcile source {cli_kind} {name} -n {namespace}")
    return Check("Flux source Ready", target, "pass", f"Ready: {message}")
