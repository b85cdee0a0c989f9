"""Day one with Flux alone: every object of every stage of dist/flux/<overlay>.yaml is of a kind the
cluster serves by the time its stage applies it (built in, installed by `flux bootstrap`, or delivered by
an earlier stage), the HPAs have a resource metrics API, and a user's clone validates on its own."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml
from conftest import DIST, OVERLAYS, ROOT, clean_env, run_main
from stackgen import crds
from stackgen.validate import custom_resource_count, is_custom, stage_objects, validate_flux


def stages(overlay: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((DIST / "flux" / f"{overlay}.yaml").read_text()) if d]


def applied(overlay: str) -> list[tuple[dict, list[dict]]]:
    return [(stage, stage_objects(DIST / stage["spec"]["path"].removeprefix("./dist/"))) for stage in stages(overlay)]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_an_empty_cluster_with_flux_accepts_every_stage_in_order(overlay):
    """Kinds an EKS Auto Mode cluster with only Flux serves: Kubernetes' own, Flux's and Auto Mode's (NodePool,
    NodeClass, ApplicationNetworkPolicy). Each stage may use those and the kinds the stages before it delivered
    (their CRDs, and the CRDs their HelmReleases' charts install)."""
    served = (set(crds.kinds(crds.FLUX)) | crds.kinds(crds.KARPENTER) | crds.kinds(crds.NETWORK_POLICY_CONTROLLER)
              | {("eks.amazonaws.com/v1", "NodeClass")})
    counted = 0
    for stage, objects in applied(overlay):
        own_crds = {(f"{o['spec']['group']}/{v['name']}", o["spec"]["names"]["kind"])
                    for o in objects if o["kind"] == "CustomResourceDefinition" for v in o["spec"]["versions"]}
        custom = [o for o in objects if is_custom(o)]
        assert [o["kind"] for o in custom if (o["apiVersion"], o["kind"]) not in served | own_crds] == [], \
            stage["metadata"]["name"]
        counted += len(custom)
        served |= own_crds
        for release in (o for o in objects if o["kind"] == "HelmRelease"):
            chart_set = crds.CHART_CRDS.get(release["spec"]["chart"]["spec"]["chart"])  # cert-manager: none
            served |= crds.kinds(chart_set) if chart_set else set()
    assert counted > 20


def test_the_stack_is_refused_where_no_stage_delivers_external_secrets(tmp_path):
    """Today's defect: ExternalSecrets in the stack with nothing delivering their kind."""
    shutil.copytree(DIST, tmp_path / "dist")
    platform = tmp_path / "dist" / "clinic" / "platform" / "platform.yaml"
    kept = [o for o in yaml.safe_load_all(platform.read_text()) if o and o["kind"] != "HelmRelease"]
    platform.write_text(yaml.safe_dump_all(kept))
    problems = validate_flux(tmp_path / "dist")
    assert any("ExternalSecret" in p and "is not served yet" in p for p in problems), problems
    assert any("ClusterSecretStore" in p for p in problems)


def test_a_stage_that_only_waits_for_existing_crds_serves_their_kinds(tmp_path):
    """platform.<piece>: existing renders nothing and waits for the CRDs (and cert-manager's webhook) instead."""
    overlays = tmp_path / "overlays"
    overlays.mkdir()
    (overlays / "byo.yaml").write_text(
        "platform: {external_secrets: existing, metrics_server: existing, cert_manager: existing}\n")
    result = run_main("--overlays", str(overlays), "--dist", str(tmp_path / "dist"))
    assert result.returncode == 0, result.stderr
    platform = next(s for s in yaml.safe_load_all((tmp_path / "dist" / "flux" / "byo.yaml").read_text())
                    if s["metadata"]["name"] == "monitoring-platform")
    assert platform["spec"]["wait"] is False
    assert {(c["kind"], c["name"]) for c in platform["spec"]["healthChecks"]} == {
        ("CustomResourceDefinition", "externalsecrets.external-secrets.io"),
        ("CustomResourceDefinition", "clustersecretstores.external-secrets.io"),
        ("CustomResourceDefinition", "certificates.cert-manager.io"),
        ("CustomResourceDefinition", "clusterissuers.cert-manager.io"),
        ("Deployment", "cert-manager-webhook"),
        ("APIService", "v1beta1.metrics.k8s.io")}
    crd_stage = yaml.safe_load((tmp_path / "dist" / "byo" / "crds" / "kustomization.yaml").read_text())
    assert not any("cert-manager" in entry for entry in crd_stage["resources"])  # the cluster's own CRDs
    assert stage_objects(tmp_path / "dist" / "byo" / "platform") == []
    assert validate_flux(tmp_path / "dist") == []
    platform["spec"]["healthChecks"] = [c for c in platform["spec"]["healthChecks"] if c["kind"] != "APIService"]
    flux = [s if s["metadata"]["name"] != "monitoring-platform" else platform
            for s in yaml.safe_load_all((tmp_path / "dist" / "flux" / "byo.yaml").read_text())]
    (tmp_path / "dist" / "flux" / "byo.yaml").write_text(yaml.safe_dump_all(flux))
    assert any("HPAs scale on resource metrics" in p for p in validate_flux(tmp_path / "dist"))


def test_the_hpas_metrics_api_is_rendered_with_everything_it_needs(tmp_path):
    objects = [o for _, objs in applied("hospital") for o in objs]
    api = next(o for o in objects if o["kind"] == "APIService")
    assert api["metadata"]["name"] == "v1beta1.metrics.k8s.io" and api["spec"]["service"]["namespace"] == "kube-system"
    assert any(o["kind"] == "HorizontalPodAutoscaler" for o in objects)
    assert validate_flux(DIST) == []
    shutil.copytree(DIST, tmp_path / "dist")
    platform = tmp_path / "dist" / "hospital" / "platform" / "platform.yaml"
    for drop in ("system:metrics-server", "metrics-server:system:auth-delegator"):
        kept = [o for o in yaml.safe_load_all(platform.read_text()) if o and not
                (o["kind"] == "ClusterRoleBinding" and o["metadata"]["name"] == drop)]
        platform.write_text(yaml.safe_dump_all(kept))
    problems = [p for p in validate_flux(tmp_path / "dist") if "hospital.yaml" in p]
    assert any("nodes/metrics" in p for p in problems) and any("auth-delegator" in p for p in problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_platform_addons_run_restricted_and_sized(overlay):
    platform = stage_objects(DIST / overlay / "platform")
    releases = {o["spec"]["chart"]["spec"]["chart"]: o for o in platform if o["kind"] == "HelmRelease"}
    # each at the release of the CRDs pinned for it; cert-manager's applied by the CRD stage, not the chart
    assert {chart: r["spec"]["chart"]["spec"]["version"] for chart, r in releases.items()} == {
        "external-secrets": "2.9.0", "cert-manager": "v1.21.1"}
    assert releases["cert-manager"]["spec"]["values"]["crds"]["enabled"] is False
    crd_stage = yaml.safe_load((DIST / overlay / "crds" / "kustomization.yaml").read_text())
    assert "../../crds/cert-manager-v1.21.1" in crd_stage["resources"]
    namespaces = {o["metadata"]["name"]: o for o in platform if o["kind"] == "Namespace"}
    for chart, parts in (("external-secrets", ("webhook", "certController")), ("cert-manager", ("webhook", "cainjector"))):
        release = releases[chart]
        namespace = namespaces[release["spec"]["targetNamespace"]]
        assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        for part in parts:
            assert release["spec"]["values"][part]["resources"]["limits"]
        assert release["spec"]["values"]["resources"]["requests"]
    capacity = (DIST / overlay / "CAPACITY.md").read_text()
    assert "## Platform add-ons (outside the budget)" in capacity and "Deployment/metrics-server" in capacity
    assert "HelmRelease/cert-manager webhook" in capacity


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not on PATH")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kustomize_builds_each_crd_stage_from_the_vendored_files(overlay):
    result = subprocess.run(["kubectl", "kustomize", str(DIST / overlay / "crds")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    built = [d for d in yaml.load_all(result.stdout, Loader=crds.CrdLoader) if d]
    assert {d["kind"] for d in built} == {"CustomResourceDefinition"}
    assert len(built) == len(stage_objects(DIST / overlay / "crds"))


def test_validate_counts_the_custom_resources_it_checked():
    """Nothing beside the clone is needed: the count is the same in a user's clone."""
    result = subprocess.run([sys.executable, str(ROOT / "main.py"), "validate", "--kubernetes-version", "1.37.0"],
                            cwd=ROOT, capture_output=True, text=True, env=clean_env(), timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    count = custom_resource_count(DIST)
    assert count > 150
    assert result.stdout.strip().endswith(f"validate: 0 problem(s); {count} custom resources checked against their "
                                          "vendored CRDs")


def test_nothing_the_tests_or_validate_read_comes_from_beside_the_clone():
    result = subprocess.run(["git", "grep", "-l", "-E", r"\.\./shared|shared/(crds|config-reference)", "--",
                             "*.py", "*.yaml", ":!dist", ":!tools/import_pinned.py", ":!tools/import_crds.py",
                             ":!tests/test_delivery.py"], cwd=ROOT, capture_output=True, text=True)
    assert result.stdout == ""
