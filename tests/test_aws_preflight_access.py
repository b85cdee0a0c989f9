"""`aws preflight` against moto_server judges what AWS will enforce: who else can read each bucket, who else
can assume each role, Denies that break the roles' access, key and secret states, roles by ARN. From the
day-one account (which passes), one change at a time; each state that fails has one that passes beside it."""
from __future__ import annotations

import json
import shutil

import pytest
import yaml
from aws_moto import (ACCOUNT, CLUSTER, aws_env, client, failures, moto_url, preflight, tls_only_policy,  # noqa: F401
                      tree, trust_policy, world)
from conftest import ROOT
from stackgen.aws.preflight_iam import key_state_check

OTHER = "444455556666"
LOKI_ROLE = f"arn:aws:iam::{ACCOUNT}:role/{CLUSTER}-loki"


def with_bucket_statements(world, component, *statements):
    bucket = world.bucket(component)
    document = json.loads(tls_only_policy(bucket))
    document["Statement"] += [dict(s, Resource=[r.format(bucket=bucket) for r in s["Resource"]]) for s in statements]
    client("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps(document))


def read(principal, sid="Read", **extra):
    return {"Sid": sid, "Effect": "Allow", "Principal": principal, "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::{bucket}", "arn:aws:s3:::{bucket}/*"], **extra}


def with_trust_statement(world, component, statement):
    document = json.loads(trust_policy(world, f"system:serviceaccount:monitoring:{component}"))
    document["Statement"].append(statement)
    client("iam").update_assume_role_policy(RoleName=f"{CLUSTER}-{component}", PolicyDocument=json.dumps(document))


def with_condition(document: str, condition: dict) -> dict:
    found = json.loads(document)
    found["Statement"][0]["Condition"].update(condition)
    return found


def with_key_statement(world, statement):
    document = json.loads(client("kms").get_key_policy(KeyId=world.key_arn, PolicyName="default")["Policy"])
    document["Statement"].append(statement)
    client("kms").put_key_policy(KeyId=world.key_arn, PolicyName="default", Policy=json.dumps(document))


def key_id(world) -> str:
    return world.key_arn.rsplit("/", 1)[1]  # moto_server's DisableKey and ScheduleKeyDeletion fail (500) on an ARN


ANOTHER_PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/STAGING"
DENY_DELETE = {"Sid": "NoDelete", "Effect": "Deny", "Principal": {"AWS": LOKI_ROLE}, "Action": "s3:DeleteObject",
               "Resource": ["arn:aws:s3:::{bucket}/*"]}

# case -> (the change, the rows that are not "pass": (status, check, target, in detail, in fix))
CASES = {
    "public read, hidden today by the public access block": (
        lambda w: with_bucket_statements(w, "loki", read("*", "PublicRead")),
        [("fail", "access from outside the account", f"s3://{CLUSTER}-loki", "anyone (anonymous): s3:GetObject",
          "remove bucket policy statement PublicRead")]),
    "read by another account": (
        lambda w: with_bucket_statements(w, "tempo", read({"AWS": f"arn:aws:iam::{OTHER}:root"}, "Auditors")),
        [("fail", "access from outside the account", f"s3://{CLUSTER}-tempo",
          f"arn:aws:iam::{OTHER}:root: s3:GetObject", "remove bucket policy statement Auditors")]),
    "everyone, on the condition of being in the account: passes": (
        lambda w: with_bucket_statements(w, "loki", read("*", Condition={"StringEquals": {"aws:PrincipalAccount": ACCOUNT}})),
        []),
    "everyone through a VPC endpoint: unknown condition": (
        lambda w: with_bucket_statements(w, "loki", read("*", "ThroughVpce",
                                                         Condition={"StringEquals": {"aws:SourceVpce": "vpce-1"}})),
        [("warn", "access from outside the account", f"s3://{CLUSTER}-loki",
          "unknown condition in bucket policy statement ThroughVpce (StringEquals aws:SourceVpce)", "check it by hand")]),
    "trust lets any AWS principal assume the role": (
        lambda w: with_trust_statement(w, "loki", {"Sid": "Anyone", "Effect": "Allow", "Principal": {"AWS": "*"},
                                                   "Action": "sts:AssumeRole"}),
        [("fail", "trust policy: other principals", f"{CLUSTER}-loki",
          f"any principal of another AWS account; another principal of account {ACCOUNT}",
          "remove trust policy statement Anyone")]),
    "trust lets another cluster's ServiceAccount assume the role": (
        lambda w: with_trust_statement(w, "tempo", {"Sid": "Staging", "Effect": "Allow",
                                                    "Principal": {"Federated": ANOTHER_PROVIDER},
                                                    "Action": "sts:AssumeRoleWithWebIdentity"}),
        [("fail", "trust policy: other principals", f"{CLUSTER}-tempo",
          f"system:serviceaccount:monitoring:tempo through the OIDC provider {ANOTHER_PROVIDER}",
          "trust policy statement Staging")]),
    "trust denies the ServiceAccount": (
        lambda w: with_trust_statement(w, "grafana", {"Sid": "Nobody", "Effect": "Deny",
                                                      "Principal": {"Federated": w.provider_arn},
                                                      "Action": "sts:AssumeRoleWithWebIdentity"}),
        [("fail", "trust policy", f"{CLUSTER}-grafana",
          "trust policy statement Nobody denies system:serviceaccount:monitoring:grafana", "update-assume-role-policy")]),
    "trust admits the ServiceAccount from one address: unknown condition": (
        lambda w: client("iam").update_assume_role_policy(RoleName=f"{CLUSTER}-loki", PolicyDocument=json.dumps(
            with_condition(trust_policy(w, "system:serviceaccount:monitoring:loki"),
                           {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))),
        [("warn", "trust policy", f"{CLUSTER}-loki",
          "unknown condition in trust policy statement 1 (IpAddress aws:SourceIp)", "check the condition by hand")]),
    "trust denies assuming by AWS principals: passes": (
        lambda w: with_trust_statement(w, "loki", {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}),
        []),
    "key policy denies the role": (
        lambda w: with_key_statement(w, {"Sid": "NotLoki", "Effect": "Deny", "Principal": {"AWS": LOKI_ROLE},
                                         "Action": "kms:Decrypt", "Resource": "*"}),
        [("fail", "KMS key policy", f"{CLUSTER}-loki", "denies kms:Decrypt (by key policy statement NotLoki)",
          "put-key-policy")]),
    "key policy denies another role: passes": (
        lambda w: with_key_statement(w, {"Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/someone"},
                                         "Action": "kms:Decrypt", "Resource": "*"}),
        []),
    "key policy allows only through S3: passes": (
        lambda w: client("kms").put_key_policy(KeyId=w.key_arn, PolicyName="default", Policy=json.dumps({"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*",
             "Condition": {"StringEquals": {"kms:ViaService": ["s3.us-east-1.amazonaws.com",
                                                               "secretsmanager.us-east-1.amazonaws.com"]}}}]})),
        []),
    "bucket policy denies Loki s3:DeleteObject": (
        lambda w: with_bucket_statements(w, "loki", DENY_DELETE),
        [("fail", "permissions", f"{CLUSTER}-loki",
          f"denied: s3:DeleteObject on arn:aws:s3:::{CLUSTER}-loki/* (by bucket policy statement NoDelete)", "Deny")]),
    "bucket policy denies Loki s3:DeleteObject under one prefix": (
        lambda w: with_bucket_statements(w, "loki", dict(DENY_DELETE, Resource=["arn:aws:s3:::{bucket}/index/*"])),
        [("fail", "permissions", f"{CLUSTER}-loki",
          f"denied: s3:DeleteObject on arn:aws:s3:::{CLUSTER}-loki/index/* (by bucket policy statement NoDelete)", "Deny")]),
    "bucket policy denies Loki s3:DeleteObject from one address: unknown condition": (
        lambda w: with_bucket_statements(w, "loki", dict(DENY_DELETE, Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})),
        [("warn", "permissions", f"{CLUSTER}-loki",
          "unknown condition in bucket policy statement NoDelete (IpAddress aws:SourceIp)",
          "check the condition by hand")]),
    "key disabled": (
        lambda w: client("kms").disable_key(KeyId=key_id(w)),
        [("fail", "KMS key state", "arn:aws:kms:", "Disabled: every SSE-KMS read and write fails", "aws kms enable-key")]),
    "key pending deletion": (
        lambda w: client("kms").schedule_key_deletion(KeyId=key_id(w), PendingWindowInDays=7),
        [("fail", "KMS key state", "arn:aws:kms:", "are gone for good", "aws kms cancel-key-deletion")]),
    "secret scheduled for deletion": (
        lambda w: client("secretsmanager").delete_secret(SecretId=f"{CLUSTER}/monitoring/grafana-admin", RecoveryWindowInDays=7),
        [("fail", "Secrets Manager entry", f"{CLUSTER}/monitoring/grafana-admin", "scheduled for deletion on",
          f"aws secretsmanager restore-secret --secret-id {CLUSTER}/monitoring/grafana-admin")]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_change_from_day_one(case, tree, world, capsys):
    change, expected = CASES[case]
    change(world)
    code, checks = preflight(tree, capsys)
    rows = [c for c in checks if c["status"] != "pass"]
    assert len(rows) == len(expected), rows
    for row, (status, check, target, detail, fix) in zip(rows, expected):
        assert (row["status"], row["check"]) == (status, check) and row["target"].startswith(target), row
        assert detail in row["detail"] and fix in row["fix"], row
    assert code == (1 if any(status == "fail" for status, *_ in expected) else 0)


def test_a_role_in_another_account_is_its_own_failure(tree, world, capsys, tmp_path):
    """The overlay (and dist/) name a role in another account: no look-up of the same-named role in the
    caller's account, no OIDC-provider advice for the wrong account; one row, with its own fix."""
    foreign = f"arn:aws:iam::{OTHER}:role/{CLUSTER}-loki"
    path = tree / "overlays" / f"{CLUSTER}.yaml"
    overlay = yaml.safe_load(path.read_text())
    overlay["loki"]["role_arn"] = foreign
    path.write_text(yaml.safe_dump(overlay))
    dist = tmp_path / "dist"
    shutil.copytree(tree / "dist", dist)
    for rendered in (dist / CLUSTER).rglob("*.yaml"):  # what a render of the changed overlay names
        rendered.write_text(rendered.read_text().replace(LOKI_ROLE, foreign))
    try:
        code, checks = preflight(tree, capsys, dist=dist)
    finally:
        overlay["loki"]["role_arn"] = LOKI_ROLE
        path.write_text(yaml.safe_dump(overlay))
    assert code == 1
    assert [(c["check"], c["target"]) for c in failures(checks)] == [("role account", f"{CLUSTER}-loki (loki.role_arn)")]
    row = failures(checks)[0]
    assert f"{foreign} is in account {OTHER}, the cluster {CLUSTER} in {ACCOUNT}" in row["detail"]
    assert f"set loki.role_arn to a role in account {ACCOUNT}" in row["fix"]
    assert not [c for c in checks if c["target"].startswith(f"{CLUSTER}-loki") and c["check"] != "role account"]


def test_key_pending_import_from_a_recorded_response():
    """moto creates a key of Origin EXTERNAL Enabled, where KMS creates it PendingImport (no key material):
    the state row reads a DescribeKey response recorded in that state."""
    metadata = json.loads((ROOT / "tests" / "recorded" / "kms-describe-key-pending-import.json").read_text())["KeyMetadata"]
    check = key_state_check(metadata, "k")
    assert check.status == "fail" and check.detail.startswith("PendingImport: the key has no key material")
    assert f"aws kms import-key-material --key-id {metadata['Arn']}" in check.fix
    assert key_state_check(dict(metadata, KeyState="Enabled", Enabled=True), "k").status == "pass"
