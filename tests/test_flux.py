"""dist/flux/<overlay>.yaml: CRDs, the platform add-ons, the operators, then the stack, each stage waiting
for the last; what each stage applies is served by then, and readiness is read for the current generation."""
from __future__ import annotations

import copy
import shutil

import celpy
import pytest
import yaml
from conftest import DIST, OVERLAYS
from stackgen.validate import load_tree, schema_problems, stage_objects, validate_flux

STAGES = ("monitoring-crds", "monitoring-platform", "monitoring-operators", "monitoring-stack")


def delivery(overlay):
    return [d for d in yaml.safe_load_all((DIST / "flux" / f"{overlay}.yaml").read_text()) if d]


@pytest.mark.parametrize("overlay_name", OVERLAYS)
def test_stages_apply_crds_platform_operators_then_the_stack(overlay_name):
    stages = delivery(overlay_name)
    assert [s["metadata"]["name"] for s in stages] == list(STAGES)
    applied = set()
    for stage in stages:
        assert {d["name"] for d in stage["spec"].get("dependsOn", [])} <= applied, stage["metadata"]["name"]
        assert len(applied) == 0 or stage["spec"]["dependsOn"] == [{"name": STAGES[len(applied) - 1]}]
        applied.add(stage["metadata"]["name"])
        # A stage is ready only when what it applied (or, for the platform, what it waits for) is.
        assert (stage["spec"]["wait"] is True) is ("healthChecks" not in stage["spec"]) and stage["spec"]["timeout"]
        # `flux bootstrap` creates GitRepository/flux-system; nothing else needs creating by hand.
        assert stage["spec"]["sourceRef"] == {"kind": "GitRepository", "name": "flux-system"}
    crds, platform, operators, stack = stages
    assert crds["spec"]["prune"] is False, "pruning CRDs would delete every object of their kinds"
    assert platform["spec"]["prune"] and operators["spec"]["prune"] and stack["spec"]["prune"]


@pytest.mark.parametrize("overlay_name", OVERLAYS)
def test_each_stage_applies_what_it_says(overlay_name):
    crds, platform, operators, stack = delivery(overlay_name)
    assert crds["spec"]["path"] == f"./dist/{overlay_name}/crds"
    assert platform["spec"]["path"] == f"./dist/{overlay_name}/platform"
    assert operators["spec"]["path"] == f"./dist/{overlay_name}/operators"
    assert stack["spec"]["path"] == f"./dist/{overlay_name}"
    first = {
        d["kind"] for p in (DIST / overlay_name / "operators").glob("*.yaml") if p.name != "kustomization.yaml"
        for d in yaml.safe_load_all(p.read_text()) if d}
    # The namespaces and the operator exist before any custom resource of the stack is applied.
    assert {"Namespace", "Deployment", "ClusterRole"} <= first
    later = {d["kind"] for p in (DIST / overlay_name).glob("*.yaml") if p.name != "kustomization.yaml"
             for d in yaml.safe_load_all(p.read_text()) if d}
    assert "Namespace" not in later and {"Prometheus", "Alertmanager", "ServiceMonitor"} <= later


@pytest.mark.parametrize("overlay_name", OVERLAYS)
def test_the_stack_is_ready_only_when_the_operator_says_its_resources_are(overlay_name):
    """With `wait`, Flux ignores healthChecks and would take the CRs (no Ready condition) for ready at once."""
    *_, stack = delivery(overlay_name)
    assert stack["spec"]["wait"] is True and "healthChecks" not in stack["spec"]
    kinds = {(o["apiVersion"], o["kind"]) for o in load_tree(DIST / overlay_name) if o["kind"] in ("Prometheus", "Alertmanager")}
    exprs = {(e["apiVersion"], e["kind"]): e for e in stack["spec"]["healthCheckExprs"]}
    assert {(a, k) for a, k in exprs if "monitoring.coreos.com" in a} == kinds
    eck = {(o["apiVersion"], o["kind"]) for o in load_tree(DIST / overlay_name) if o["kind"] in ("Elasticsearch", "Kibana")}
    assert set(exprs) - kinds == eck, "every operated kind is read by its own expressions, and only those"


def test_health_checks_beside_wait_are_refused(tmp_path):
    (tmp_path / "flux").mkdir()
    shutil.copytree(DIST / "clinic", tmp_path / "clinic")
    shutil.copytree(DIST / "crds", tmp_path / "crds")
    stages = delivery("clinic")
    stages[3]["spec"]["healthChecks"] = [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "prometheus-main",
                                          "namespace": "monitoring"}]
    (tmp_path / "flux" / "clinic.yaml").write_text(yaml.safe_dump_all(stages))
    assert any("healthChecks are ignored while wait is true" in p for p in validate_flux(tmp_path))


def test_namespaces_are_never_pruned_by_flux():
    """The stack's namespaces hold its volumes; the External Secrets namespace holds none and goes with
    its HelmRelease when the cluster brings its own (platform.external_secrets: existing)."""
    for overlay in OVERLAYS:
        for ns in (o for o in stage_objects(DIST / overlay / "operators") if o["kind"] == "Namespace"):
            assert ns["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/prune"] == "disabled"


def test_delivery_validates_against_the_pinned_flux_crds():
    assert validate_flux(DIST) == []
    broken = copy.deepcopy(delivery("hospital")[3])
    broken["spec"]["prune"] = "yes"
    broken["spec"]["healthcheck"] = []
    problems = schema_problems(broken, ())
    assert any("prune" in p for p in problems) and any("healthcheck" in p for p in problems)


def test_a_stage_whose_path_does_not_exist_is_refused(tmp_path):
    (tmp_path / "flux").mkdir()
    stages = delivery("clinic")
    stages[2]["spec"]["path"] = "./dist/clinic/operatorz"
    (tmp_path / "flux" / "clinic.yaml").write_text(yaml.safe_dump_all(stages))
    assert any("operatorz has no kustomization.yaml" in p for p in validate_flux(tmp_path))


def health_of(expressions: dict, obj: dict) -> str:
    """What Flux concludes (fluxcd RFC-0009): a stale observedGeneration is in progress; then inProgress,
    failed, current in that order, the first true wins; none true, or an expression that cannot be
    evaluated yet (no status), is in progress until the stage's timeout."""
    status = obj.get("status", {})
    if "observedGeneration" in status and status["observedGeneration"] != obj["metadata"]["generation"]:
        return "InProgress"
    env = celpy.Environment()
    for key, result in (("inProgress", "InProgress"), ("failed", "Failed"), ("current", "Current")):
        if key in expressions:
            value = env.program(env.compile(expressions[key])).evaluate(
                {name: celpy.json_to_cel(obj[name]) for name in ("metadata", "spec", "status") if name in obj})
            if isinstance(value, celpy.CELEvalError):
                return "InProgress"
            if value:
                return result
    return "InProgress"


def condition(kind: str, status: str, generation: int = 2) -> dict:
    return {"type": kind, "status": status, "observedGeneration": generation}


def resource(status: dict | None, generation: int = 2) -> dict:
    return {"metadata": {"name": "x", "generation": generation}, "spec": {},
            **({"status": status} if status is not None else {})}


# The statuses the operators write (ECK: pkg/apis/elasticsearch/v1/status.go, common/v1 DeploymentStatus;
# Prometheus Operator: the Available and Reconciled conditions), and what Flux must make of them.
STATUSES = {
    ("elasticsearch.k8s.elastic.co/v1", "Elasticsearch"): [
        (None, "InProgress"),
        ({"observedGeneration": 2, "phase": "ApplyingChanges", "health": "unknown"}, "InProgress"),
        ({"observedGeneration": 2, "phase": "Ready", "health": "red"}, "InProgress"),
        ({"observedGeneration": 2, "phase": "Ready", "health": "yellow"}, "InProgress"),
        ({"observedGeneration": 1, "phase": "Ready", "health": "green"}, "InProgress"),
        ({"observedGeneration": 2, "phase": "Invalid", "health": "unknown"}, "Failed"),
        ({"observedGeneration": 2, "phase": "Ready", "health": "green", "availableNodes": 3}, "Current"),
    ],
    ("kibana.k8s.elastic.co/v1", "Kibana"): [
        (None, "InProgress"),
        ({"count": 1, "health": "red"}, "InProgress"),
        ({"observedGeneration": 2, "health": "red", "availableNodes": 0}, "InProgress"),
        ({"observedGeneration": 2, "health": "green", "availableNodes": 1}, "Current"),
    ],
    # The operator writes observedGeneration on each condition (no top-level one): after an upgrade the
    # previous generation's Available=True must not pass, nor its Reconciled=False fail.
    **{("monitoring.coreos.com/v1", kind): [
        (None, "InProgress"),
        ({"conditions": [condition("Available", "False"), condition("Reconciled", "True")]}, "InProgress"),
        ({"conditions": [condition("Reconciled", "False")]}, "Failed"),
        ({"conditions": [condition("Available", "True", 1), condition("Reconciled", "True", 1)]}, "InProgress"),
        ({"conditions": [condition("Available", "True", 1), condition("Reconciled", "False", 1)]}, "InProgress"),
        ({"conditions": [condition("Available", "True"), condition("Reconciled", "True")]}, "Current"),
    ] for kind in ("Prometheus", "Alertmanager")},
}


def test_flux_reads_each_operated_resource_as_its_operator_reports_it():
    *_, stack = delivery("hospital-elk")
    exprs = {(e["apiVersion"], e["kind"]): e for e in stack["spec"]["healthCheckExprs"]}
    assert set(exprs) == set(STATUSES)
    for kind, cases in STATUSES.items():
        assert [health_of(exprs[kind], resource(status)) for status, _ in cases] == [want for _, want in cases], kind
