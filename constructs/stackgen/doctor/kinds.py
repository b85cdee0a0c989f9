"""Check 3: every kind a stage applies is served by the cluster, or delivered by a CRD in that stage or
an earlier one. Flux's kustomize-controller applies a stage's CustomResourceDefinitions (and Namespaces)
before the rest of it and waits for them to be established (server-side apply in stages:
fluxcd/kustomize-controller#720), so a CRD and its first objects may share a stage."""
from __future__ import annotations

from stackgen import crds
from stackgen.aws.report import Check
from stackgen.doctor.cluster import group_version
from stackgen.doctor.flux_checks import is_flux
from stackgen.doctor.inputs import Inputs
from stackgen.doctor.tree import Stage, object_name
from stackgen.lib.netpol import ANP_API_VERSION, ANP_KIND

CRD = "CustomResourceDefinition"


def _cluster_kind_fix(inputs: Inputs, api_version: str, kind: str) -> str | None:
    """What to do when a kind only the cluster itself can serve is not served (no chart or stage brings it)."""
    if (api_version, kind) == (ANP_API_VERSION, ANP_KIND):
        # EKS Auto Mode serves it (DNS-based egress); standard EKS and older platform versions do not.
        return (f"set network.egress: cidr in overlays/{inputs.overlay}.yaml (egress to 0.0.0.0/0 on the same "
                "ports instead of by domain name), or run on an EKS Auto Mode cluster that serves "
                "applicationnetworkpolicies.networking.k8s.aws")
    return None


def delivered_kinds(stages: list[Stage]) -> dict[tuple[str, str], tuple[int, Stage, str]]:
    """(apiVersion, kind) -> (index, stage, CRD name) of the first stage whose CRDs serve it: its own, or
    those its HelmReleases' charts install (crds.CHART_CRDS: the pinned schemas of what the chart brings)."""
    delivered: dict[tuple[str, str], tuple[int, Stage, str]] = {}
    for index, stage in enumerate(stages):
        for release in stage.of_kind("HelmRelease"):
            chart = ((release.get("spec") or {}).get("chart") or {}).get("spec", {}).get("chart")
            if chart in crds.CHART_CRDS:
                for key in sorted(crds.kinds(crds.CHART_CRDS[chart])):
                    # A chart's CRDs exist once its release is ready, i.e. for the stages after it.
                    delivered.setdefault(key, (index + 1, stage, f"of chart {chart}"))
        for crd in stage.of_kind(CRD):
            for key in sorted(crds.served_kinds([crd])):
                delivered.setdefault(key, (index, stage, crd["metadata"]["name"]))
    return delivered


def remote_resources(inputs: Inputs) -> list[Check]:
    """One row per stage naming remote resources: kustomize fetches them at apply time, doctor cannot."""
    return [Check("resources readable offline", f"stage {stage.name}", "warn",
                  f"{len(stage.remote)} remote resource(s), what they deliver is not checked: " + ", ".join(stage.remote),
                  "vendor them into the repository (local files the kustomization lists)")
            for stage in inputs.stages if stage.remote]


def kinds_available(inputs: Inputs) -> list[Check]:
    uses: dict[tuple[str, str], list[tuple[int, Stage, dict]]] = {}
    for index, stage in enumerate(inputs.stages):
        for obj in stage.objects:
            if not is_flux(obj.get("apiVersion", "")):  # Flux's own kinds: check "Flux API served"
                uses.setdefault((obj.get("apiVersion", ""), obj.get("kind", "")), []).append((index, stage, obj))
    delivered = delivered_kinds(inputs.stages)
    return remote_resources(inputs) + [_kind(inputs, key, users, delivered.get(key)) for key, users in sorted(uses.items())]


def _kind(inputs: Inputs, key: tuple[str, str], users: list[tuple[int, Stage, dict]],
          crd: tuple[int, Stage, str] | None) -> Check:
    api_version, kind = key
    target = f"{api_version} {kind}"
    if inputs.cluster.serves(api_version, kind):
        return Check("kind served", target, "pass", "served by the cluster")
    first, stage, _ = users[0]
    if crd and crd[0] <= first:
        return Check("kind served", target, "pass", f"delivered by stage {crd[1].name} (CRD {crd[2]})")
    here = [object_name(obj) for index, _, obj in users if index == first]
    later = len(users) - len(here)
    where = (f"stage {stage.name} applies {kind} {', '.join(here[:3])}" + (f" and {len(here) - 3} more" if len(here) > 3 else "")
             + (f" ({later} more in later stages)" if later else ""))
    if crd:
        return Check("kind served", target, "fail", f"{where}, but its CRD {crd[2]} comes later, in stage {crd[1].name}",
                     f"move CRD {crd[2]} to stage {stage.name} or an earlier one")
    fix = _cluster_kind_fix(inputs, api_version, kind)
    if fix:
        return Check("kind served", target, "fail", f"not served by the cluster; {where}", fix)
    # Remote resources (up to this stage) and the charts of earlier stages' HelmReleases may bring CRDs
    # doctor cannot read offline.
    unknown = [s.name for i, s in enumerate(inputs.stages[:first + 1])
               if s.remote or (i < first and s.of_kind("HelmRelease"))]
    if unknown:
        return Check("kind served", target, "warn",
                     f"not served by the cluster; {where}; remote resources or Helm charts of stage(s) "
                     f"{', '.join(unknown)} may deliver it (not readable offline)",
                     f"after those stages reconcile: kubectl api-resources --api-group={group_version(api_version)[0]}")
    return Check("kind served", target, "fail", f"not served by the cluster and no stage delivers its CRD; {where}",
                 f"install the CRDs of {group_version(api_version)[0] or 'the core group'} before Flux applies "
                 "(or deliver them in the crds stage)")
