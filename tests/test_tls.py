"""Encryption in transit: the issuer chain every component's certificate comes from, as rendered."""
from __future__ import annotations

import pytest
from conftest import DIST, OVERLAYS, run_main
from stackgen.validate import stage_objects


def _of(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_stacks_ca_is_a_self_signed_root_behind_a_ca_cluster_issuer(overlay):
    operators = stage_objects(DIST / overlay / "operators")
    issuers, certificates = _of(operators, "ClusterIssuer"), _of(operators, "Certificate")
    ca_issuer = issuers["monitoring-ca"]
    root = certificates[ca_issuer["spec"]["ca"]["secretName"]]
    assert root["spec"]["isCA"] is True and root["spec"]["secretName"] == ca_issuer["spec"]["ca"]["secretName"]
    # a ClusterIssuer reads its CA Secret from cert-manager's cluster resource namespace (its own, by default)
    platform = stage_objects(DIST / overlay / "platform")
    release = next(o for o in platform if o["kind"] == "HelmRelease" and o["metadata"]["name"] == "cert-manager")
    assert root["metadata"]["namespace"] == release["spec"]["targetNamespace"]
    assert "selfSigned" in issuers[root["spec"]["issuerRef"]["name"]]["spec"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_certificate_is_issued_by_the_stacks_ca(overlay):
    everything = [o for stage in (DIST / overlay, DIST / overlay / "operators") for o in stage_objects(stage)]
    leaves = [c for c in _of(everything, "Certificate").values() if not c["spec"].get("isCA")]
    for leaf in leaves:
        assert leaf["spec"]["issuerRef"] == {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "monitoring-ca"}
        assert leaf["spec"]["privateKey"]["rotationPolicy"] == "Always"
        assert leaf["spec"]["dnsNames"]


def test_with_the_users_cluster_issuer_no_ca_is_rendered(tmp_path):
    overlays = tmp_path / "overlays"
    overlays.mkdir()
    (overlays / "pca.yaml").write_text("tls: {cluster_issuer: aws-private-ca}\n")
    result = run_main("--overlays", str(overlays), "--dist", str(tmp_path / "dist"))
    assert result.returncode == 0, result.stderr
    operators = stage_objects(tmp_path / "dist" / "pca" / "operators")
    # no CA (the operator's own serving certificate is in this stage too)
    assert _of(operators, "ClusterIssuer") == {}
    assert not [c for c in _of(operators, "Certificate").values() if c["spec"].get("isCA")]
    stack = stage_objects(tmp_path / "dist" / "pca") + operators
    assert all(c["spec"]["issuerRef"]["name"] == "aws-private-ca" for c in _of(stack, "Certificate").values())


def test_a_renewal_window_longer_than_the_lifetime_is_refused(tmp_path):
    overlays = tmp_path / "overlays"
    overlays.mkdir()
    (overlays / "bad.yaml").write_text("tls: {duration: 720h, renew_before: 720h}\n")
    result = run_main("--overlays", str(overlays), "--dist", str(tmp_path / "dist"))
    assert result.returncode != 0
    assert "tls.renew_before" in result.stderr and not (tmp_path / "dist").exists()
