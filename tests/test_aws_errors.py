"""Clear errors, no traceback: no credentials, rejected credentials, wrong region, no such cluster, access denied."""
from __future__ import annotations

import urllib.request

import pytest
from aws_moto import CLUSTER, REGION, aws_env, build_world, client, moto_url  # noqa: F401
from conftest import ROOT, run_main


def discover(env, tmp_path, *args):
    overlays = tmp_path / "overlays"
    overlays.mkdir(exist_ok=True)
    (overlays / "hospital.yaml").write_text((ROOT / "overlays" / "hospital.yaml").read_text())
    return run_main("aws", "--overlays", str(overlays), "discover", "--base", "hospital", *args, env=env)


def assert_clear(result, message):
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("... ")]  # progress lines
    assert "Traceback" not in result.stderr and len(lines) == 1 and lines[0].startswith("error: "), result.stderr


def test_no_credentials(aws_env, tmp_path):
    env = {k: v for k, v in aws_env.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    env["AWS_EC2_METADATA_DISABLED"] = "true"  # the chain's last link would otherwise wait for an instance role
    assert_clear(discover(env, tmp_path, "--cluster", CLUSTER, "--region", REGION),
                 "error: no AWS credentials: boto3's credential chain found none; set AWS_PROFILE")


def test_unknown_profile(aws_env, tmp_path):
    assert_clear(discover(dict(aws_env, AWS_PROFILE="clinic-prod"), tmp_path, "--cluster", CLUSTER),
                 "error: The config profile (clinic-prod) could not be found")


def test_no_region(aws_env, tmp_path):
    env = {k: v for k, v in aws_env.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    assert_clear(discover(env, tmp_path, "--cluster", CLUSTER), "error: no AWS region: pass --region, set AWS_REGION")


def test_wrong_region_names_where_it_looked(aws_env, tmp_path):
    build_world()
    assert_clear(discover(aws_env, tmp_path, "--cluster", CLUSTER, "--region", "us-west-2"),
                 f"error: no EKS cluster '{CLUSTER}' in us-west-2; clusters there: none")


def test_preflight_of_an_overlay_whose_cluster_does_not_exist(aws_env, tmp_path):
    build_world()
    overlays = tmp_path / "overlays"
    overlays.mkdir()
    (overlays / "gone.yaml").write_text("cluster_name: gone\n")
    dist = tmp_path / "dist" / "gone"
    dist.mkdir(parents=True)
    (dist / "kustomization.yaml").write_text("resources: []\n")
    result = run_main("aws", "--overlays", str(overlays), "--dist", str(tmp_path / "dist"), "preflight", "--overlay", "gone",
                      env=aws_env)
    assert_clear(result, f"error: no EKS cluster 'gone' in {REGION}; clusters there: {CLUSTER}")


def test_preflight_needs_a_rendered_overlay(aws_env, tmp_path):
    overlays = tmp_path / "overlays"
    overlays.mkdir()
    (overlays / "prod.yaml").write_text("cluster_name: prod\n")
    result = run_main("aws", "--overlays", str(overlays), "--dist", str(tmp_path / "dist"), "preflight", "--overlay", "prod",
                      env=aws_env)
    assert_clear(result, "does not exist: render it first (python main.py --overlay prod)")


@pytest.fixture()
def enforced_iam(moto_url):
    """moto checks IAM policies from the next request on; a user without any policy gets AccessDenied."""
    iam = client("iam")
    iam.create_user(UserName="reader")
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    def auth_after(count: bytes) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset-auth", data=count, method="POST",
                                                      headers={"Content-Type": "text/plain"}))
    auth_after(b"0")
    try:
        yield key
    finally:
        auth_after(b"inf")


def test_access_denied_names_the_missing_action(aws_env, tmp_path, enforced_iam):
    overlays = tmp_path / "overlays"
    overlays.mkdir()
    (overlays / "prod.yaml").write_text("cluster_name: prod\n")
    env = dict(aws_env, AWS_ACCESS_KEY_ID=enforced_iam["AccessKeyId"], AWS_SECRET_ACCESS_KEY=enforced_iam["SecretAccessKey"])
    result = run_main("aws", "--overlays", str(overlays), "secrets", "bootstrap", "--overlay", "prod", env=env)
    assert_clear(result, "error: access denied: secretsmanager:DescribeSecret (")
    assert "; grant the caller secretsmanager:DescribeSecret" in result.stderr


def test_rejected_credentials(aws_env, tmp_path, enforced_iam):
    env = dict(aws_env, AWS_ACCESS_KEY_ID="AKIAUNKNOWN000000000", AWS_SECRET_ACCESS_KEY="wrong")
    assert_clear(discover(env, tmp_path, "--cluster", CLUSTER, "--region", REGION), "error: AWS rejected the credentials")
