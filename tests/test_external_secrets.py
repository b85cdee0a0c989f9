"""Secrets without kubectl: every Secret a pod mounts comes from exactly one ExternalSecret, with the keys
the pod reads, valid against the pinned External Secrets CRDs; the plain-Secret path stays available."""
from __future__ import annotations

import copy

import pytest
from conftest import DIST, OVERLAYS, ROOT, run_main
from stackgen.checks.secrets import check_secret_producers
from stackgen.manifests import Manifests
from stackgen.validate import load_tree, schema_problems

# Overlays on top of clinic, rendered once: (file content, what it shows).
VARIANTS = {
    "plain": "base: clinic\nsecrets: {provider: kubernetes}\n",
    "existing-store": "base: clinic\nsecrets: {existing_store: platform-secrets, prefix: shared/monitoring/}\n",
    "shared-secret": ("base: clinic\ngrafana:\n  database:\n    host: db.example.org:5432\n"
                      "    password_secret: {name: grafana-db, key: password}\n"
                      "alerting:\n  pagerduty: {secret: {name: alertmanager-slack, key: routing-key}}\n"
                      "autoscaling:\n  grafana: {max_replicas: 2}\n"),
}


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    root = tmp_path_factory.mktemp("variants")
    overlays, dist = root / "overlays", root / "dist"
    overlays.mkdir()
    (overlays / "clinic.yaml").write_text((ROOT / "overlays" / "clinic.yaml").read_text())
    args = []
    for name, content in VARIANTS.items():
        (overlays / f"{name}.yaml").write_text(content)
        args += ["--overlay", name]
    result = run_main("--overlays", str(overlays), "--dist", str(dist), *args)
    assert result.returncode == 0, result.stderr
    return {name: load_tree(dist / name) for name in VARIANTS}


def of_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_external_secrets_validate_against_the_pinned_crds(overlay):
    objects = load_tree(DIST / overlay)
    custom = of_kind(objects, "ExternalSecret") + of_kind(objects, "ClusterSecretStore")
    assert {o["apiVersion"] for o in custom} == {"external-secrets.io/v1"}
    assert [p for o in custom for p in schema_problems(o, ())] == []
    # Schema-valid is not enough: a misspelt field is refused, as the API server's strict validation would.
    broken = copy.deepcopy(of_kind(objects, "ExternalSecret")[0])
    broken["spec"]["target"]["creationPolcy"] = "Owner"
    assert schema_problems(broken, ())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_mounted_secret_has_exactly_one_external_secret_with_its_keys(overlay):
    objects = load_tree(DIST / overlay)
    produced = {e["spec"]["target"]["name"]: sorted(d["secretKey"] for d in e["spec"]["data"])
                for e in of_kind(objects, "ExternalSecret")}
    assert produced == {"grafana-admin": ["admin-password", "admin-user"], "alertmanager-slack": ["api-url"],
                        "alertmanager-pagerduty": ["routing-key"], "alertmanager-smtp": ["password"]}
    alertmanager = of_kind(objects, "Alertmanager")[0]
    assert sorted(alertmanager["spec"]["secrets"]) == sorted(n for n in produced if n.startswith("alertmanager-"))
    for external in of_kind(objects, "ExternalSecret"):
        remote = {d["remoteRef"]["key"] for d in external["spec"]["data"]}
        assert remote == {f"openemr-eks/monitoring/{external['spec']['target']['name']}"}
        assert all(d["remoteRef"]["property"] == d["secretKey"] for d in external["spec"]["data"])
        assert external["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "monitoring-aws-secrets-manager"}
    assert check_secret_producers(Manifests(objects)) == []


def test_the_secret_check_fails_on_a_missing_a_duplicate_or_a_keyless_producer():
    objects = load_tree(DIST / "hospital")
    externals = of_kind(objects, "ExternalSecret")
    others = [o for o in objects if o["kind"] != "ExternalSecret"]
    slack = next(e for e in externals if e["metadata"]["name"] == "alertmanager-slack")
    without_slack = others + [e for e in externals if e is not slack]
    assert check_secret_producers(Manifests(without_slack)) == [
        "Alertmanager/monitoring/main: mounts Secret alertmanager-slack, which no ExternalSecret produces"]
    twice = objects + [dict(copy.deepcopy(slack), metadata={**slack["metadata"], "name": "slack-again"})]
    assert "Secret alertmanager-slack has 2 producers" in check_secret_producers(Manifests(twice))[0]
    admin = next(e for e in externals if e["metadata"]["name"] == "grafana-admin")
    keyless = copy.deepcopy(admin)
    keyless["spec"]["data"] = [d for d in keyless["spec"]["data"] if d["secretKey"] != "admin-password"]
    problems = check_secret_producers(Manifests([o for o in objects if o is not admin] + [keyless]))
    assert problems == ["Deployment/monitoring/grafana: reads key admin-password of Secret grafana-admin, which "
                        "ExternalSecret/monitoring/grafana-admin does not write (it writes: admin-user)"]


def test_store_authenticates_through_irsa_and_serves_the_stack_namespace_only():
    objects = load_tree(DIST / "clinic")
    store = of_kind(objects, "ClusterSecretStore")[0]
    assert store["spec"]["conditions"] == [{"namespaces": ["monitoring"]}]
    aws = store["spec"]["provider"]["aws"]
    assert aws["service"] == "SecretsManager" and aws["region"] == "us-east-1"
    assert aws["auth"] == {"jwt": {"serviceAccountRef": {"name": "external-secrets", "namespace": "monitoring"}}}
    account = next(o for o in objects if o["kind"] == "ServiceAccount" and o["metadata"]["name"] == "external-secrets")
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(":role/openemr-monitoring-external-secrets")


def test_no_secret_value_is_rendered():
    for overlay in OVERLAYS:
        for obj in load_tree(DIST / overlay):
            if obj["kind"] == "ExternalSecret":
                assert set(obj["spec"]) == {"data", "refreshInterval", "secretStoreRef", "target"}
                assert all(set(d) == {"secretKey", "remoteRef"} and set(d["remoteRef"]) == {"key", "property"}
                           for d in obj["spec"]["data"])
            if obj["kind"] == "Secret":
                assert obj["metadata"]["name"] == "alertmanager-main-config"


def test_plain_secret_path_renders_no_external_secrets(variants):
    objects = variants["plain"]
    assert not of_kind(objects, "ExternalSecret") and not of_kind(objects, "ClusterSecretStore")
    assert not [o for o in objects if o["metadata"].get("name") == "external-secrets"]
    assert check_secret_producers(Manifests(objects)) == []


def test_existing_store_is_referenced_not_rendered(variants):
    objects = variants["existing-store"]
    assert not of_kind(objects, "ClusterSecretStore")
    assert not [o for o in objects if o["kind"] == "ServiceAccount" and o["metadata"]["name"] == "external-secrets"]
    refs = {(e["spec"]["secretStoreRef"]["name"], e["spec"]["data"][0]["remoteRef"]["key"]) for e in of_kind(objects, "ExternalSecret")}
    assert ("platform-secrets", "shared/monitoring/grafana-admin") in refs


def test_database_password_and_shared_secrets_have_one_producer_each(variants):
    objects = variants["shared-secret"]
    produced = {e["spec"]["target"]["name"]: sorted(d["secretKey"] for d in e["spec"]["data"])
                for e in of_kind(objects, "ExternalSecret")}
    assert produced["grafana-db"] == ["password"]
    # Slack's and PagerDuty's keys in one Secret: one ExternalSecret writes both.
    assert produced["alertmanager-slack"] == ["api-url", "routing-key"] and "alertmanager-pagerduty" not in produced
    assert check_secret_producers(Manifests(objects)) == []
