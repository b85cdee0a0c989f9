"""A real AWS API stand-in for the aws tests: moto_server on 127.0.0.1 (a free port, stopped at the end),
reached through AWS_ENDPOINT_URL with fake credentials, and an account built the way the README's
day-one sequence expects (Terraform's outputs, tagged), which each test then breaks in one place."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import yaml
from conftest import ROOT, run_main
from overlay_keys import USER_KEYS
from stackgen.aws import cli
from stackgen.config import deep_merge

ACCOUNT = "111122223333"  # not the placeholder 123456789012 (moto's own default)
REGION = "us-east-1"
CLUSTER = "openemr-prod"
CLUSTER_TAG, COMPONENT_TAG = "monitoring.openemr.io/cluster", "monitoring.openemr.io/component"
BUCKETS = {"loki": 730, "tempo": 180, "mimir-blocks": 400, "mimir-ruler": None}  # expiration days, after retention
ROLES = {"loki": ["loki"], "tempo": ["tempo"], "mimir": ["mimir-blocks", "mimir-ruler"], "grafana": [],
         "external-secrets": []}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_url():
    port = _free_port()
    server = Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen([str(server), "-H", "127.0.0.1", "-p", str(port)],
                               env={**os.environ, "MOTO_ACCOUNT_ID": ACCOUNT},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("moto_server did not start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def aws_environment(url: str, tmp: Path) -> dict[str, str]:
    """boto3's standard variables only; no profile or config file of the machine running the tests."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_REGION=REGION, AWS_CONFIG_FILE=str(tmp / "no-aws-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-aws-credentials"))
    return env


@pytest.fixture()
def aws_env(moto_url, tmp_path, monkeypatch):
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"))
    env = aws_environment(moto_url, tmp_path)
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    return env


def client(service: str):
    return boto3.client(service, region_name=os.environ.get("AWS_REGION", REGION))


def _tags(component: str) -> list[dict]:
    return [{"Key": CLUSTER_TAG, "Value": CLUSTER}, {"Key": COMPONENT_TAG, "Value": component}]


@dataclass
class World:
    issuer: str
    provider_arn: str
    key_arn: str

    def bucket(self, component: str) -> str:
        return f"{CLUSTER}-{component}"

    def role_arn(self, component: str) -> str:
        return f"arn:aws:iam::{ACCOUNT}:role/{CLUSTER}-{component}"

    # The cluster's service CIDR (not moto's default), and the `kubernetes` Service's ClusterIP in it.
    service_cidr = "10.100.0.0/16"
    kube_api = "10.100.0.1/32"


def trust_policy(world: World, subject: str, audience: str = "sts.amazonaws.com") -> str:
    host = world.issuer.removeprefix("https://")
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": world.provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{host}:aud": audience, f"{host}:sub": subject}}}]})


def role_policy(world: World, component: str, actions=("s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject")) -> str:
    buckets = [world.bucket(b) for b in ROLES[component]]
    statements = []
    if buckets:
        statements.append({"Effect": "Allow", "Action": list(actions),
                           "Resource": [f"arn:aws:s3:::{b}" for b in buckets] + [f"arn:aws:s3:::{b}/*" for b in buckets]})
        statements.append({"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": world.key_arn})
    if component == "grafana":
        statements.append({"Effect": "Allow", "Resource": "*", "Action": [
            "cloudwatch:GetMetricData", "cloudwatch:ListMetrics", "logs:StartQuery", "logs:GetQueryResults",
            "xray:GetTraceSummaries", "xray:BatchGetTraces"]})
    if component == "external-secrets":
        statements.append({"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                           "Resource": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{CLUSTER}/monitoring/*"})
        statements.append({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": world.key_arn})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def tls_only_policy(bucket: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})


def lifecycle(expire_days: int | None) -> dict:
    rule = {"ID": "housekeeping", "Status": "Enabled", "Filter": {"Prefix": ""},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 30}}
    if expire_days:
        rule["Expiration"] = {"Days": expire_days}
    return {"Rules": [rule]}


def build_world(version: str = "1.31") -> World:
    """The account as Terraform leaves it on day one: cluster, OIDC provider, key, buckets, roles, all tagged."""
    eks, iam, kms, s3 = client("eks"), client("iam"), client("kms"), client("s3")
    eks.create_cluster(name=CLUSTER, version=version, roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
                       resourcesVpcConfig={"subnetIds": []},
                       kubernetesNetworkConfig={"serviceIpv4Cidr": World.service_cidr})
    issuer = eks.describe_cluster(name=CLUSTER)["cluster"]["identity"]["oidc"]["issuer"]
    provider = iam.create_open_id_connect_provider(Url=issuer, ClientIDList=["sts.amazonaws.com"],
                                                   ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"])
    key = kms.create_key(Description="monitoring", Tags=[{"TagKey": t["Key"], "TagValue": t["Value"]}
                                                         for t in _tags("monitoring")])["KeyMetadata"]
    world = World(issuer, provider["OpenIDConnectProviderArn"], key["Arn"])
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*",
         "Resource": "*"}]}))
    for component, expire in BUCKETS.items():
        bucket = world.bucket(component)
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": _tags(component)})
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": world.key_arn},
            "BucketKeyEnabled": True}]})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
        s3.put_bucket_policy(Bucket=bucket, Policy=tls_only_policy(bucket))
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=lifecycle(expire))
    for component in ROLES:
        name = f"{CLUSTER}-{component}"
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy(
            world, f"system:serviceaccount:monitoring:{component}"), Tags=_tags(component))
        iam.put_role_policy(RoleName=name, PolicyName="stack", PolicyDocument=role_policy(world, component))
    return world


@pytest.fixture(scope="module")
def tree(moto_url, tmp_path_factory):
    """discover -> the user's keys -> synth for the cluster overlay, once: dist/ does not depend on what each
    test breaks."""
    root = tmp_path_factory.mktemp("cluster")
    overlays = root / "overlays"
    overlays.mkdir()
    (overlays / "hospital.yaml").write_text((ROOT / "overlays" / "hospital.yaml").read_text())
    env = aws_environment(moto_url, root)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"))
        build_world()
        discovered = run_main("aws", "--overlays", str(overlays), "discover", "--cluster", CLUSTER, "--region", REGION,
                              "--base", "hospital", env=env)
        assert discovered.returncode == 0, discovered.stderr
    set_user_keys(overlays / f"{CLUSTER}.yaml")
    rendered = run_main("--overlays", str(overlays), "--dist", str(root / "dist"), "--overlay", CLUSTER)
    assert rendered.returncode == 0, rendered.stderr
    return root


def set_user_keys(path: Path, keys: dict = USER_KEYS) -> None:
    """What the user adds to the cluster overlay on day one: the mail and links only they know."""
    path.write_text(yaml.safe_dump(deep_merge(yaml.safe_load(path.read_text()), keys), sort_keys=False))


def fill_secrets(world_overlays) -> None:
    """What the user does after bootstrap: put the real receiver credentials, drop the placeholder tag."""
    assert cli.main(["--overlays", str(world_overlays), "secrets", "bootstrap", "--overlay", CLUSTER], ROOT) == 0
    secrets = client("secretsmanager")
    for entry in secrets.list_secrets()["SecretList"]:
        value = {k: "real-value" for k in json.loads(secrets.get_secret_value(SecretId=entry["Name"])["SecretString"])}
        secrets.put_secret_value(SecretId=entry["Name"], SecretString=json.dumps(value))
        secrets.untag_resource(SecretId=entry["Name"], TagKeys=["monitoring.openemr.io/placeholder"])


@pytest.fixture()
def world(tree, aws_env):
    built = build_world()
    path = tree / "overlays" / f"{CLUSTER}.yaml"
    overlay = yaml.safe_load(path.read_text())
    overlay["aws"]["kms_key_arn"] = built.key_arn  # a new key in each fresh account
    path.write_text(yaml.safe_dump(overlay))
    fill_secrets(tree / "overlays")
    return built


def preflight(tree, capsys, *extra, dist=None) -> tuple[int, list[dict]]:
    capsys.readouterr()
    code = cli.main(["--overlays", str(tree / "overlays"), "--dist", str(dist or tree / "dist"), "--json", "preflight",
                     "--overlay", CLUSTER, *extra], ROOT)
    return code, json.loads(capsys.readouterr().out)["checks"]


def failures(checks):
    return [c for c in checks if c["status"] == "fail"]
