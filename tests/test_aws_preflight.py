"""`aws preflight` against moto_server: passes on the day-one account, and names each bad state with its fix."""
from __future__ import annotations

import json
import re
import shutil

import pytest
import yaml
from aws_moto import (ACCOUNT, CLUSTER, aws_env, client, failures, lifecycle, moto_url, preflight, role_policy,  # noqa: F401
                      tree, trust_policy, world)
from conftest import ROOT, run_main
from overlay_keys import USER_KEYS, dotted
from stackgen.aws import cli


def test_day_one_account_passes(tree, world, capsys):
    code, checks = preflight(tree, capsys)
    assert failures(checks) == [] and code == 0
    assert [c for c in checks if c["status"] == "warn"] == []
    names = {(c["check"], c["target"]) for c in checks}
    for bucket, key in (("loki", "loki.bucket"), ("tempo", "tempo.bucket"), ("mimir-blocks", "mimir.blocks_bucket"),
                        ("mimir-ruler", "mimir.ruler_bucket")):
        target = f"s3://{CLUSTER}-{bucket} ({key})"
        for check in ("bucket region", "default encryption", "versioning", "public access block", "TLS-only bucket policy",
                      "access from outside the account", "lifecycle vs retention",
                      "lifecycle: abort incomplete multipart uploads"):
            assert (check, target) in names
    for role, key in (("loki", "loki.role_arn"), ("tempo", "tempo.role_arn"), ("mimir", "mimir.role_arn"),
                      ("grafana", "grafana.role_arn"), ("external-secrets", "secrets.role_arn")):
        assert ("trust policy", f"{CLUSTER}-{role} ({key})") in names
        assert ("permissions", f"{CLUSTER}-{role} ({key})") in names
        assert ("trust policy: other principals", f"{CLUSTER}-{role} ({key})") in names
    assert ("KMS key state", f"{world.key_arn} (aws.kms_key_arn)") in names
    trust = next(c for c in checks if c["check"] == "trust policy" and c["target"].startswith(f"{CLUSTER}-loki"))
    assert trust["detail"] == "admits exactly system:serviceaccount:monitoring:loki"


def _rule(days, storage):
    rules = lifecycle(730)
    rules["Rules"][0]["Transitions"] = [{"Days": days, "StorageClass": storage}]
    return rules


def break_encryption(world):
    client("s3").delete_bucket_encryption(Bucket=world.bucket("loki"))


def sse_s3(world):
    client("s3").put_bucket_encryption(Bucket=world.bucket("loki"), ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})


def aws_managed_key(world):
    client("s3").put_bucket_encryption(Bucket=world.bucket("tempo"), ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})


def glacier_at_30_days(world):
    client("s3").put_bucket_lifecycle_configuration(Bucket=world.bucket("loki"), LifecycleConfiguration=_rule(30, "GLACIER"))


def instant_retrieval(world):
    client("s3").put_bucket_lifecycle_configuration(Bucket=world.bucket("loki"), LifecycleConfiguration=_rule(30, "GLACIER_IR"))


def early_expiration(world):
    client("s3").put_bucket_lifecycle_configuration(Bucket=world.bucket("tempo"), LifecycleConfiguration=lifecycle(30))


def ruler_expiration(world):
    client("s3").put_bucket_lifecycle_configuration(Bucket=world.bucket("mimir-ruler"), LifecycleConfiguration=lifecycle(400))


def no_abort_rule(world):
    rules = lifecycle(730)
    del rules["Rules"][0]["AbortIncompleteMultipartUpload"]
    client("s3").put_bucket_lifecycle_configuration(Bucket=world.bucket("loki"), LifecycleConfiguration=rules)


def wrong_service_account(world):
    client("iam").update_assume_role_policy(RoleName=f"{CLUSTER}-loki", PolicyDocument=trust_policy(
        world, "system:serviceaccount:monitoring:loki-read"))


def wrong_audience(world):
    client("iam").update_assume_role_policy(RoleName=f"{CLUSTER}-tempo", PolicyDocument=trust_policy(
        world, "system:serviceaccount:monitoring:tempo", audience="sts.example.com"))


def wildcard_subject(world):
    host = world.issuer.removeprefix("https://")
    document = json.loads(trust_policy(world, "x"))
    document["Statement"][0]["Condition"] = {"StringEquals": {f"{host}:aud": "sts.amazonaws.com"},
                                             "StringLike": {f"{host}:sub": "system:serviceaccount:monitoring:*"}}
    client("iam").update_assume_role_policy(RoleName=f"{CLUSTER}-mimir", PolicyDocument=json.dumps(document))


def no_delete(world):
    client("iam").put_role_policy(RoleName=f"{CLUSTER}-loki", PolicyName="stack", PolicyDocument=role_policy(
        world, "loki", actions=("s3:ListBucket", "s3:GetObject", "s3:PutObject")))


def no_public_access_block(world):
    client("s3").delete_public_access_block(Bucket=world.bucket("tempo"))


def no_tls_policy(world):
    client("s3").delete_bucket_policy(Bucket=world.bucket("mimir-blocks"))


def versioning_suspended(world):
    client("s3").put_bucket_versioning(Bucket=world.bucket("loki"), VersioningConfiguration={"Status": "Suspended"})


def key_policy_without_the_roles(world):
    client("kms").put_key_policy(KeyId=world.key_arn, PolicyName="default", Policy=json.dumps({"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/someone-else"}, "Action": "kms:*",
         "Resource": "*"}]}))


def overbroad_bucket_role(world):
    client("iam").put_role_policy(RoleName=f"{CLUSTER}-tempo", PolicyName="stack", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:*", "kms:*"], "Resource": "*"}]}))


def overbroad_secrets_role(world):
    client("iam").put_role_policy(RoleName=f"{CLUSTER}-external-secrets", PolicyName="stack", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
                      {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": world.key_arn}]}))


def no_oidc_provider(world):
    client("iam").delete_open_id_connect_provider(OpenIDConnectProviderArn=world.provider_arn)


def placeholder_left(world):
    client("secretsmanager").tag_resource(SecretId=f"{CLUSTER}/monitoring/alertmanager-slack",
                                          Tags=[{"Key": "monitoring.openemr.io/placeholder", "Value": "true"}])


BAD_STATES = {
    "unencrypted bucket": (break_encryption, "default encryption", f"s3://{CLUSTER}-loki", "no default encryption",
                           "put-bucket-encryption"),
    "SSE-S3 while aws.kms_key_arn names a key": (sse_s3, "default encryption", f"s3://{CLUSTER}-loki",
                                                 "SSE-S3 (AES256, S3-managed keys) is in use, not SSE-KMS with aws.kms_key_arn",
                                                 "KMSMasterKeyID"),
    "the AWS managed key": (aws_managed_key, "default encryption", f"s3://{CLUSTER}-tempo",
                            "SSE-KMS (aws:kms) with the AWS managed key aws/s3, not aws.kms_key_arn", "KMSMasterKeyID"),
    "glacier at 30 days": (glacier_at_30_days, "lifecycle: archive transition", f"s3://{CLUSTER}-loki",
                           "moves objects to Glacier Flexible Retrieval after 30 days, not after loki.retention (30 days)",
                           "remove the transition"),
    "expiration before retention": (early_expiration, "lifecycle: expiration", f"s3://{CLUSTER}-tempo",
                                    "deletes objects after 30 days, not after tempo.retention (90 days)",
                                    "put-bucket-lifecycle-configuration"),
    "ruler objects expire": (ruler_expiration, "lifecycle: expiration", f"s3://{CLUSTER}-mimir-ruler",
                             "deletes objects after 400 days, not after never", "aws_s3_bucket_lifecycle_configuration"),
    "no abort-multipart rule": (no_abort_rule, "lifecycle: abort incomplete multipart uploads", f"s3://{CLUSTER}-loki",
                                "no rule aborts incomplete multipart uploads", "AbortIncompleteMultipartUpload"),
    "trust names the wrong ServiceAccount": (wrong_service_account, "trust policy", f"{CLUSTER}-loki",
                                             "must be exactly ['system:serviceaccount:monitoring:loki']",
                                             "aws iam update-assume-role-policy"),
    "trust names the wrong audience": (wrong_audience, "trust policy", f"{CLUSTER}-tempo",
                                       "aud is ['sts.example.com'], must be ['sts.amazonaws.com']", "update-assume-role-policy"),
    "trust matches subjects by wildcard": (wildcard_subject, "trust policy", f"{CLUSTER}-mimir",
                                           "StringLike ['system:serviceaccount:monitoring:*']", "StringEquals"),
    "role without s3:DeleteObject": (no_delete, "permissions", f"{CLUSTER}-loki",
                                     f"not allowed: s3:DeleteObject on arn:aws:s3:::{CLUSTER}-loki/*", "put-role-policy"),
    "missing public access block": (no_public_access_block, "public access block", f"s3://{CLUSTER}-tempo",
                                    "off: BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets",
                                    "put-public-access-block"),
    "no TLS-only policy": (no_tls_policy, "TLS-only bucket policy", f"s3://{CLUSTER}-mimir-blocks", "no bucket policy",
                           "aws:SecureTransport"),
    "versioning suspended": (versioning_suspended, "versioning", f"s3://{CLUSTER}-loki", "versioning Suspended",
                             "Status=Enabled"),
    "key policy without the roles": (key_policy_without_the_roles, "KMS key policy", f"{CLUSTER}-loki",
                                     "does not let the role use kms:Decrypt, kms:GenerateDataKey", "aws kms put-key-policy"),
    "no OIDC provider": (no_oidc_provider, "OIDC provider", f"{CLUSTER}-grafana", "IAM has no OIDC provider",
                         "aws iam create-open-id-connect-provider"),
    "placeholder credential": (placeholder_left, "Secrets Manager entry", f"{CLUSTER}/monitoring/alertmanager-slack",
                               "still holds placeholders for api-url", "put-secret-value"),
}


# A trust policy that names other ServiceAccounts also lets them assume the role: a second row says who.
ALSO_FAILING = {"trust names the wrong ServiceAccount": {("trust policy: other principals", f"{CLUSTER}-loki")},
                "trust matches subjects by wildcard": {("trust policy: other principals", f"{CLUSTER}-mimir")}}


@pytest.mark.parametrize("case", sorted(BAD_STATES))
def test_bad_state_fails_with_its_fix(case, tree, world, capsys):
    breaks, check, target, detail, fix = BAD_STATES[case]
    breaks(world)
    code, checks = preflight(tree, capsys)
    assert code == 1
    failed = failures(checks)
    rows = [(c["check"], c["target"].split(" ")[0]) for c in failed]
    assert sorted(rows) == sorted({(check, target)} | ALSO_FAILING.get(case, set())) or \
        (case in ("no OIDC provider", "key policy without the roles") and all(c["check"] == check for c in failed)), failed
    found = next(c for c in failed if c["target"].startswith(target))
    assert detail in found["detail"] and fix in found["fix"], found


@pytest.mark.parametrize("breaks,detail", [
    (instant_retrieval, "Glacier Instant Retrieval after 30 days: readable, but every read is charged"),
    (overbroad_bucket_role, "also allows s3:GetObject on arn:aws:s3:::another-application-bucket/object"),
    (overbroad_secrets_role, "also allows secretsmanager:GetSecretValue on arn:aws:secretsmanager:us-east-1:"),
])
def test_tolerable_states_warn_and_pass(breaks, detail, tree, world, capsys):
    breaks(world)
    code, checks = preflight(tree, capsys)
    warnings = [c["detail"] for c in checks if c["status"] == "warn"]
    assert code == 0 and len(warnings) == 1 and detail in warnings[0], warnings


def test_table_output_and_progress(tree, world, capsys):
    no_delete(world)
    code = cli.main(["--overlays", str(tree / "overlays"), "--dist", str(tree / "dist"), "preflight", "--overlay", CLUSTER], ROOT)
    out, err = capsys.readouterr()
    assert code == 1
    assert out.startswith("| status | check | target | detail | fix |")
    assert re.search(r"^\| FAIL \| permissions \| openemr-prod-loki \(loki.role_arn\) \| not allowed: s3:DeleteObject", out, re.M)
    assert out.rstrip().endswith("checks: 1 failed, 0 warnings")
    assert f"... checking s3://{CLUSTER}-loki (loki.bucket): region, encryption" in err
    assert "... checking role openemr-prod-loki for system:serviceaccount:monitoring:loki" in err


def test_intelligent_tiering_archive_tiers_from_a_recorded_response():
    """moto answers ListBucketIntelligentTieringConfigurations with an empty list: the archive check reads a
    recorded response."""
    from stackgen.aws.preflight_s3 import BucketUse, intelligent_tiering_check
    recorded = json.loads((ROOT / "tests" / "recorded" / "s3-list-intelligent-tiering-archive.json").read_text())
    use = BucketUse("loki", "b", "loki.bucket", 30, "loki.retention", "Loki")
    check = intelligent_tiering_check(recorded["IntelligentTieringConfigurationList"], use, "s3://b")
    assert check.status == "fail"
    assert check.detail.startswith("archive-cold-chunks (ARCHIVE_ACCESS after 90 days without access); archive-cold-chunks "
                                   "(DEEP_ARCHIVE_ACCESS after 180 days without access): Loki cannot read")
    assert "delete-bucket-intelligent-tiering-configuration --bucket b --id archive-cold-chunks" in check.fix
    without_tiers = [dict(recorded["IntelligentTieringConfigurationList"][0], Tierings=[])]
    assert intelligent_tiering_check(without_tiers, use, "s3://b").status == "pass"


def test_recorded_trust_policy_with_url_encoded_document():
    """IAM's raw API returns documents URL-encoded; the evaluator reads both forms."""
    from stackgen.aws.preflight_iam import _document, trust_problems
    issuer = "https://oidc.eks.us-east-1.amazonaws.com/id/ABC"
    provider = f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"
    encoded = ("%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal"
               "%22%3A%7B%22Federated%22%3A%22" + provider.replace(":", "%3A").replace("/", "%2F") + "%22%7D%2C%22Action"
               "%22%3A%22sts%3AAssumeRoleWithWebIdentity%22%2C%22Condition%22%3A%7B%22StringEquals%22%3A%7B%22"
               "oidc.eks.us-east-1.amazonaws.com%2Fid%2FABC%3Asub%22%3A%22system%3Aserviceaccount%3Amonitoring%3Aloki%22"
               "%7D%7D%7D%5D%7D")
    assert trust_problems(_document(encoded), provider, issuer, "system:serviceaccount:monitoring:loki") == [
        "no condition StringEquals oidc.eks.us-east-1.amazonaws.com/id/ABC:aud = sts.amazonaws.com"]


def test_placeholders_fail_with_their_keys_until_set(tree, world, capsys, tmp_path):
    """The cluster overlay as discover writes it, without the user's mail and links: the defaults' documentation
    placeholders that dist/ uses fail, one row per key, and nothing else does; set, they pass (the tree)."""
    overlays = tmp_path / "overlays"
    shutil.copytree(tree / "overlays", overlays)
    path = overlays / f"{CLUSTER}.yaml"
    written = yaml.safe_load(path.read_text())
    del written["alerting"]
    path.write_text(yaml.safe_dump(written))
    rendered = run_main("--overlays", str(overlays), "--dist", str(tmp_path / "dist"), "--overlay", CLUSTER)
    assert rendered.returncode == 0, rendered.stderr
    code, checks = preflight(tmp_path, capsys)
    failed = {c["target"]: c for c in failures(checks)}
    assert code == 1 and set(failed) == dotted(USER_KEYS) and {c["check"] for c in failed.values()} == {"placeholder"}
    assert failed["alerting.email.to"]["detail"] == ("'oncall@example.org': example.org is reserved for "
                                                     f"documentation (RFC 2606, RFC 6761); used in dist/{CLUSTER}")
    assert failed["alerting.grafana_url"]["fix"] == (f"set alerting.grafana_url in overlays/{CLUSTER}.yaml, then "
                                                     f"python main.py --overlay {CLUSTER}")
    code, checks = preflight(tree, capsys)
    assert code == 0 and ("placeholder", "alerting.email.to") not in {(c["check"], c["target"]) for c in checks}
    # The hospital base keeps Elasticsearch's default snapshot role, which nothing rendered uses.
    assert [c["detail"] for c in checks if c["check"] == "placeholder"] == [
        "'arn:aws:iam::123456789012:role/openemr-monitoring-elasticsearch': 123456789012 is AWS's documentation "
        f"account; not used in dist/{CLUSTER}"]


def test_a_placeholder_role_is_not_looked_up(tree, world, capsys, tmp_path):
    """A role left in the documentation account: one placeholder row with discover as its fix, no IAM rows."""
    overlays, dist = tmp_path / "overlays", tmp_path / "dist"
    shutil.copytree(tree / "overlays", overlays)
    shutil.copytree(tree / "dist", dist)
    path = overlays / f"{CLUSTER}.yaml"
    written = yaml.safe_load(path.read_text())
    placeholder = "arn:aws:iam::123456789012:role/openemr-monitoring-tempo"
    discovered, written["tempo"]["role_arn"] = written["tempo"]["role_arn"], placeholder
    path.write_text(yaml.safe_dump(written))
    for rendered in (dist / CLUSTER).rglob("*.yaml"):  # what a render of the changed overlay names
        rendered.write_text(rendered.read_text().replace(discovered, placeholder))
    code, checks = preflight(tmp_path, capsys)
    assert code == 1 and [(c["check"], c["target"]) for c in failures(checks)] == [("placeholder", "tempo.role_arn")]
    assert failures(checks)[0]["fix"].startswith(f"python main.py aws discover --overlay {CLUSTER}")
    assert not [c for c in checks if c["target"].startswith(placeholder.rsplit("/", 1)[1])]
