"""`aws discover` against moto_server: the cluster overlay holds exactly what the account holds."""
from __future__ import annotations

import json

import yaml
from aws_moto import ACCOUNT, CLUSTER, REGION, aws_env, build_world, client, moto_url  # noqa: F401
from conftest import ROOT, run_main
from stackgen.aws.discover import cluster_facts
from stackgen.config import load_overlay
from stackgen.settings import PLACEHOLDER_ACCOUNT

RECORDED = ROOT / "tests" / "recorded"


def overlays_dir(tmp_path):
    overlays = tmp_path / "overlays"
    overlays.mkdir()
    for name in ("clinic", "hospital", "large"):
        (overlays / f"{name}.yaml").write_text((ROOT / "overlays" / f"{name}.yaml").read_text())
    return overlays


def discover(env, overlays, *extra):
    return run_main("aws", "--overlays", str(overlays), "discover", "--cluster", CLUSTER, "--region", REGION,
                    "--base", "hospital", *extra, env=env)


def test_discover_writes_a_cluster_overlay_of_discovered_values_only(aws_env, tmp_path):
    world = build_world()
    overlays = overlays_dir(tmp_path)
    result = discover(aws_env, overlays)
    assert result.returncode == 0, result.stderr
    written = (overlays / f"{CLUSTER}.yaml").read_text()
    assert yaml.safe_load(written) == {
        "base": "hospital", "cluster_name": CLUSTER, "aws": {"region": REGION, "kms_key_arn": world.key_arn},
        "loki": {"bucket": world.bucket("loki"), "role_arn": world.role_arn("loki")},
        "tempo": {"bucket": world.bucket("tempo"), "role_arn": world.role_arn("tempo")},
        "mimir": {"blocks_bucket": world.bucket("mimir-blocks"), "ruler_bucket": world.bucket("mimir-ruler"),
                  "role_arn": world.role_arn("mimir")},
        "grafana": {"role_arn": world.role_arn("grafana")},
        "secrets": {"role_arn": world.role_arn("external-secrets")},
        # The cluster's service CIDR (DescribeCluster), and the API server's ClusterIP in it.
        "network": {"service_cidr": world.service_cidr, "kube_api_cidrs": [world.kube_api]}}
    assert PLACEHOLDER_ACCOUNT not in written
    # What it checked, as it went (stderr), and the cluster's facts in the file's header.
    assert "reading the tags of 4 S3 bucket(s)" in result.stderr
    assert f"OIDC issuer {world.issuer}" in written
    # The cluster overlay sits on the size overlay: hospital's settings, the discovered values on top.
    loaded = load_overlay(overlays / f"{CLUSTER}.yaml")
    assert loaded.config.prometheus.replicas == 2 and loaded.config.loki.bucket == world.bucket("loki")
    assert loaded.bases == [str(overlays / "hospital.yaml")]
    # What AWS cannot tell: listed as keys to set, not written (the discovered roles are no longer among them).
    listed = result.stdout.split("what only you know", 1)[1]
    for key in ("alerting.email.to", "alerting.email.smarthost", "alerting.grafana_url", "alerting.runbook_url"):
        assert f"\n  {key}: " in listed, result.stdout
    assert "loki.role_arn" not in listed and "alerting" not in yaml.safe_load(written)


def test_discover_json_lists_the_placeholders_to_set(aws_env, tmp_path):
    build_world()
    result = discover(aws_env, overlays_dir(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    listed = {p["key"]: p for p in json.loads(result.stdout)["placeholders"]}
    assert listed["alerting.email.smarthost"] == {
        "key": "alerting.email.smarthost", "value": "smtp.example.org:587",
        "reason": "smtp.example.org: example.org is reserved for documentation (RFC 2606, RFC 6761)"}
    assert not any(key.endswith("role_arn") and key != "elasticsearch.snapshot_role_arn" for key in listed)


def test_discover_reports_what_it_could_not_find_and_guesses_nothing(aws_env, tmp_path):
    build_world()
    client("iam").delete_role_policy(RoleName=f"{CLUSTER}-tempo", PolicyName="stack")
    client("iam").delete_role(RoleName=f"{CLUSTER}-tempo")
    # A second bucket tagged as Loki's: ambiguous, so neither is taken.
    s3 = client("s3")
    s3.create_bucket(Bucket="other-loki")
    s3.put_bucket_tagging(Bucket="other-loki", Tagging={"TagSet": [
        {"Key": "monitoring.openemr.io/cluster", "Value": CLUSTER}, {"Key": "monitoring.openemr.io/component", "Value": "loki"}]})
    overlays = overlays_dir(tmp_path)
    result = run_main("aws", "--overlays", str(overlays), "--json", "discover", "--cluster", CLUSTER, "--region", REGION,
                      "--base", "hospital", env=aws_env)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    missing = {m["key"]: m["reason"] for m in report["missing"]}
    assert set(missing) == {"tempo.role_arn", "loki.bucket"}
    assert missing["tempo.role_arn"] == (f"not found: looked for tags monitoring.openemr.io/cluster={CLUSTER} and "
                                         f"monitoring.openemr.io/component=tempo, or the name {CLUSTER}-tempo")
    assert "2 carry the tags" in missing["loki.bucket"]
    written = yaml.safe_load((overlays / f"{CLUSTER}.yaml").read_text())
    assert "role_arn" not in written["tempo"] and "bucket" not in written.get("loki", {})


def test_discover_finds_by_naming_convention_without_tags(aws_env, tmp_path):
    world = build_world()
    for component in ("loki", "tempo", "mimir-blocks", "mimir-ruler"):
        client("s3").delete_bucket_tagging(Bucket=world.bucket(component))
    overlays = overlays_dir(tmp_path)
    result = discover(aws_env, overlays)
    assert result.returncode == 0, result.stderr
    assert f"loki.bucket: {CLUSTER}-loki (by name)" in result.stdout


def test_rediscovery_keeps_keys_it_does_not_manage(aws_env, tmp_path):
    build_world()
    overlays = overlays_dir(tmp_path)
    path = overlays / f"{CLUSTER}.yaml"
    path.write_text("base: clinic\ncluster_name: openemr-prod\nalerting: {grafana_url: 'https://grafana.clinic.example'}\n")
    result = run_main("aws", "--overlays", str(overlays), "discover", "--overlay", CLUSTER, "--region", REGION, env=aws_env)
    assert result.returncode == 0, result.stderr
    written = yaml.safe_load(path.read_text())
    assert written["base"] == "clinic" and written["alerting"] == {"grafana_url": "https://grafana.clinic.example"}
    assert written["loki"]["role_arn"] == f"arn:aws:iam::{ACCOUNT}:role/{CLUSTER}-loki"


def test_auto_mode_and_version_from_a_recorded_describe_cluster():
    """moto's DescribeCluster has no computeConfig/storageConfig (EKS Auto Mode): read from recorded responses."""
    on = json.loads((RECORDED / "eks-describe-cluster-auto-mode.json").read_text())["cluster"]
    facts = cluster_facts(on)
    assert (facts.auto_mode, facts.block_storage, facts.version) == (True, True, "1.33")
    off = dict(on, computeConfig={"enabled": False}, storageConfig={"blockStorage": {"enabled": False}})
    assert cluster_facts(off).auto_mode is False


def test_discover_names_a_missing_cluster_without_traceback(aws_env, tmp_path):
    build_world()
    result = run_main("aws", "--overlays", str(overlays_dir(tmp_path)), "discover", "--cluster", "no-such", "--region",
                      REGION, "--base", "hospital", env=aws_env)
    assert result.returncode == 2
    assert f"error: no EKS cluster 'no-such' in {REGION}; clusters there: {CLUSTER}" in result.stderr
    assert "Traceback" not in result.stderr
