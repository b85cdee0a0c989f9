"""dist/ is what the source renders, byte for byte, every time, by either entry point."""
from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys

import pytest
import yaml
from conftest import DIST, OVERLAYS, ROOT, clean_env, run_main, tree_bytes
from stackgen.validate import load_tree


def test_committed_dist_equals_a_fresh_render(fresh_dist):
    assert tree_bytes(fresh_dist) == tree_bytes(DIST), "dist/ is stale: run the synth command and commit dist/"


def test_render_is_deterministic(fresh_dist, tmp_path):
    again = tmp_path / "dist"
    assert run_main("--dist", str(again)).returncode == 0
    assert tree_bytes(again) == tree_bytes(fresh_dist)


def test_single_overlay_render_keeps_the_others(fresh_dist, tmp_path):
    out = tmp_path / "dist"
    shutil.copytree(fresh_dist, out)
    (out / "large" / "marker").write_text("kept")
    result = run_main("--overlay", "clinic", "--dist", str(out), env=clean_env(PROMETHEUS_RETENTION="7d"))
    assert result.returncode == 0, result.stderr
    assert (out / "large" / "marker").read_text() == "kept"
    assert "retention: 7d" in (out / "clinic" / "prometheus.yaml").read_text()


@pytest.mark.skipif(not (ROOT / "node_modules" / ".bin" / "cdk8s").exists(), reason="npm ci not run: no cdk8s CLI")
def test_cdk8s_synth_renders_the_same_bytes(fresh_dist, tmp_path):
    out = tmp_path / "dist"
    result = subprocess.run(["npx", "--no-install", "cdk8s", "synth"], cwd=ROOT, capture_output=True, text=True,
                            env=clean_env(STACKGEN_DIST=str(out), CDK8S_CHECK_UPGRADE="false"), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert tree_bytes(out) == tree_bytes(fresh_dist)


def test_every_overlay_has_a_complete_kustomization_per_stage():
    for name in OVERLAYS:
        for stage in (DIST / name, DIST / name / "operators", DIST / name / "platform"):
            kustomization = yaml.safe_load((stage / "kustomization.yaml").read_text())
            files = {p.name for p in stage.glob("*.yaml")} - {"kustomization.yaml"}
            assert set(kustomization["resources"]) == files
        operators = yaml.safe_load((DIST / name / "operators" / "kustomization.yaml").read_text())
        assert operators["resources"][0] == "namespace.yaml"


def test_crds_are_vendored_at_the_tag_each_operator_runs():
    """dist/crds/<set> holds the files themselves, byte for byte the vendored ones, at the operators' tags."""
    record = yaml.safe_load((ROOT / "imports" / "crds" / "SOURCES.yaml").read_text())
    operator = yaml.safe_load_all((DIST / "clinic" / "operators" / "prometheus-operator.yaml").read_text())
    tag = next(o for o in operator if o["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
    eck = next(o for o in yaml.safe_load_all((DIST / "hospital-elk" / "operators" / "eck-operator.yaml").read_text())
               if o["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
    cert_manager = next(o for o in yaml.safe_load_all((DIST / "clinic" / "platform" / "platform.yaml").read_text())
                        if o["kind"] == "HelmRelease" and o["metadata"]["name"] == "cert-manager")
    folders = {p.name for p in (DIST / "crds").iterdir()}
    assert folders == {f"prometheus-operator-{tag.rsplit(':', 1)[1]}", f"eck-v{eck.rsplit(':', 1)[1]}",
                       f"cert-manager-{cert_manager['spec']['chart']['spec']['version']}"}
    for folder in folders:
        files = sorted(p.name for p in (DIST / "crds" / folder).glob("*.yaml") if p.name != "kustomization.yaml")
        assert files == sorted(record[folder]["files"]) and files
        for name in files:
            data = (DIST / "crds" / folder / name).read_bytes()
            assert hashlib.sha256(data).hexdigest() == record[folder]["files"][name]["sha256"]
            assert data == (ROOT / "imports" / "crds" / folder / name).read_bytes()
            assert f"/{folder.rsplit('-', 1)[1]}/" in record[folder]["files"][name]["url"]


def test_no_remote_resource_anywhere_in_dist():
    """Flux fetches nothing at reconcile time (kustomize-controller --no-remote-bases=true refuses it)."""
    for kustomization in DIST.rglob("kustomization.yaml"):
        resources = yaml.safe_load(kustomization.read_text())["resources"]
        assert not [r for r in resources if "://" in r], kustomization
    result = subprocess.run(["grep", "-rlE", r"resources:.*https?://|^- https?://", str(DIST / "crds")],
                            capture_output=True, text=True)
    assert result.stdout == ""


def test_the_vendored_files_match_their_record():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "import_pinned.py"), "--check"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "vendor: 0 problem(s)" in result.stdout


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not on PATH")
def test_kubectl_kustomize_builds_each_overlay(overlay, objects):
    built = []
    for stage in (DIST / overlay / "platform", DIST / overlay / "operators", DIST / overlay):
        result = subprocess.run(["kubectl", "kustomize", str(stage)], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        built += [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert sorted((o["kind"], o["metadata"]["name"]) for o in built) == \
        sorted((o["kind"], o["metadata"]["name"]) for o in load_tree(DIST / overlay, with_platform=True))


def _port_forwards() -> list[tuple[str, int]]:
    readme = (ROOT / "README.md").read_text()
    return [(name, int(port)) for name, port in re.findall(r"port-forward svc/([a-z0-9-]+) (\d+):\d+", readme)]


def test_readme_port_forwards_name_rendered_services():
    """Docs and code agree on service names (a seed defect): each documented Service exists somewhere."""
    services = {(o["metadata"]["name"], p["port"]) for name in OVERLAYS for o in load_tree(DIST / name)
                if o["kind"] == "Service" for p in o["spec"]["ports"]}
    forwards = _port_forwards()
    assert len(forwards) == 9
    assert [f for f in forwards if f not in services] == []


def test_readme_lists_the_trust_policy_subject_of_every_irsa_service_account():
    readme = (ROOT / "README.md").read_text()
    for name in OVERLAYS:
        for account in load_tree(DIST / name):
            if account["kind"] == "ServiceAccount" and "eks.amazonaws.com/role-arn" in account["metadata"].get("annotations", {}):
                subject = f"system:serviceaccount:{account['metadata']['namespace']}:{account['metadata']['name']}"
                assert subject in readme


def test_a_hand_vendored_crd_is_verified_by_its_recorded_sha256(tmp_path, monkeypatch):
    """The ApplicationNetworkPolicy CRD is not in the vendoring source: the tool keeps it, and --check still catches a change."""
    sys.path.insert(0, str(ROOT / "tools"))
    import import_pinned
    from stackgen import crds
    copy = tmp_path / "crds"
    shutil.copytree(crds.VENDORED, copy)
    monkeypatch.setattr(crds, "VENDORED", copy)
    monkeypatch.setattr(crds, "SOURCES", copy / "SOURCES.yaml")
    assert not crds.NETWORK_POLICY_CONTROLLER.from_source and import_pinned.problems() == []
    path = crds.vendored_path(crds.NETWORK_POLICY_CONTROLLER, crds.NETWORK_POLICY_CONTROLLER.files[0])
    path.write_text(path.read_text().replace("domainNames", "domainName"))
    assert import_pinned.problems() == [f"{path}: differs from its record (download it again from its URL)"]
