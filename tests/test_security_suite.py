"""The peer security suite (checkov) over dist/: no failed check, every kept finding with its reason."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
from conftest import DIST, OVERLAYS, ROOT
from stackgen.lib.security_findings import report, skips
from stackgen.validate import load_tree


def checkov() -> str:
    found = os.environ.get("CHECKOV") or shutil.which("checkov")
    if not found:
        if os.environ.get("CI"):
            pytest.fail("checkov is not installed: run the tests through `pipenv run tests`")
        pytest.skip("checkov not installed (`pipenv run tests` installs it)")
    return found


@pytest.fixture(scope="module")
def results() -> list[dict]:
    run = subprocess.run([checkov(), "-d", str(DIST), "--framework", "kubernetes", "--compact", "-o", "json"], capture_output=True, text=True, timeout=600)
    assert run.returncode in (0, 1), run.stderr
    reports = json.loads(run.stdout)
    return reports if isinstance(reports, list) else [reports]


def test_checkov_finds_nothing_without_a_reason(results):
    failed = [f"{f['check_id']} {f['file_path']} {f['resource']}" for r in results for f in r["results"]["failed_checks"]]
    assert failed == []
    skipped = [f for r in results for f in r["results"]["skipped_checks"]]
    assert skipped, "checkov evaluated nothing"
    # Every skip checkov honoured is one we wrote, with a reason of its own.
    assert all(s["check_result"]["suppress_comment"].strip() for s in skipped)


def test_every_skip_names_a_check_and_a_reason():
    for overlay in OVERLAYS:
        for obj in load_tree(DIST / overlay):
            for check, reason in skips(obj).items():
                assert re.fullmatch(r"CKV2?_K8S_[0-9]+", check) and len(reason) > 20, (obj["metadata"]["name"], check)


def test_stack_namespace_objects_keep_only_image_and_probe_findings():
    """Host access, root and tokens are kept only where the pod really needs them."""
    for overlay in OVERLAYS:
        for obj in load_tree(DIST / overlay):
            found = set(skips(obj))
            if obj["metadata"].get("namespace") == "monitoring":
                allowed = {"CKV_K8S_15", "CKV_K8S_43", "CKV_K8S_8"}
                # The API callers: the two operators, kube-state-metrics, the events shipper (list/watch events)
                # and the Elasticsearch setup (writes its users' Secrets).
                if obj["metadata"]["name"] in ("prometheus-operator", "kube-state-metrics", "fluent-bit-events",
                                               "eck-operator", "elasticsearch-setup"):
                    allowed.add("CKV_K8S_38")
                # elasticsearch_exporter v1.9.0 takes its credentials from the environment only.
                if obj["metadata"]["name"] == "elasticsearch-exporter":
                    allowed.add("CKV_K8S_35")
                assert found <= allowed, (obj["metadata"]["name"], found - allowed)


def test_readme_lists_every_justified_finding():
    readme = (ROOT / "README.md").read_text()
    listed = readme.split("<!-- security:begin -->\n", 1)[1].split("<!-- security:end -->", 1)[0]
    assert listed == report({overlay: load_tree(DIST / overlay, with_platform=True) for overlay in OVERLAYS})


def test_a_digest_in_versions_is_rendered_and_drops_the_digest_finding():
    from stackgen.lib.security_findings import DIGEST, justified
    from stackgen.lib.workload import ContainerSpec, HttpProbe, PodSpec
    from stackgen.settings import Resources
    from stackgen.versions import Image

    image = Image("quay.io/prometheus/prometheus", "v3.9.1", "sha256:" + "a" * 64)
    assert image.ref == "quay.io/prometheus/prometheus:v3.9.1@sha256:" + "a" * 64
    resources = Resources(cpu_request="10m", memory_request="16Mi", cpu_limit="10m", memory_limit="16Mi")

    def pod(ref):
        container = ContainerSpec("c", ref, resources, [], HttpProbe("/", "http"), HttpProbe("/", "http"))
        return PodSpec(None, [container], uid=65534)
    assert DIGEST not in justified(pod(image.ref))
    assert DIGEST in justified(pod(Image("quay.io/prometheus/prometheus", "v3.9.1").ref))
