"""Preflight of a bucket's policy through the one evaluator (aws/policies.py): requests without TLS are
denied to everyone, and nobody outside the account may read or write the bucket.

Anything public or cross-account fails even while the public access block's RestrictPublicBuckets hides
it: the grant stays in the policy and takes effect the day someone relaxes the block."""
from __future__ import annotations

import json

from botocore.exceptions import ClientError

from stackgen.aws import policies
from stackgen.aws.policies import ANONYMOUS, Decision, Principal, Request, evaluate
from stackgen.aws.report import Check
from stackgen.aws.session import Aws, error_code

# What an outsider could do with the bucket: read or list it, write or delete objects.
DATA_ACTIONS = ("s3:GetObject", "s3:ListBucket", "s3:PutObject", "s3:DeleteObject")


def bucket_policy(aws: Aws, bucket: str) -> list[dict] | None:
    """The bucket's policy statements; None without a policy (or without the bucket: check_bucket says so)."""
    try:
        return policies.statements(aws.call("s3", "get_bucket_policy", Bucket=bucket)["Policy"])
    except ClientError as error:
        if error_code(error) in ("NoSuchBucketPolicy", "NoSuchBucket"):
            return None
        raise


def object_patterns(bucket: str, policy: list[dict]) -> list[str]:
    """An object of the bucket, and each object pattern the statements name in the bucket (a grant or Deny on a prefix)."""
    named = {str(r) for s in policy for r in policies.as_list(s.get("Resource")) if str(r).startswith(f"arn:aws:s3:::{bucket}/")}
    return sorted({f"arn:aws:s3:::{bucket}/any-object"} | named)


def _data_requests(bucket: str, policy: list[dict] | None) -> list[tuple[str, str]]:
    """Each data action on what it applies to: the bucket for ListBucket, its objects for the others."""
    return [(action, resource) for action in DATA_ACTIONS
            for resource in ([f"arn:aws:s3:::{bucket}"] if action == "s3:ListBucket" else object_patterns(bucket, policy or []))]


def tls_only_check(policy: list[dict] | None, bucket: str, target: str, account: str) -> Check:
    """Each data action without TLS, by an anonymous caller and by a principal of the account, is denied."""
    insecure = {"aws:SecureTransport": ("false",)}
    callers = (ANONYMOUS, Principal("AWS", f"arn:aws:iam::{account}:role/any-role"))
    requests = [Request(action, resource, caller, insecure)
                for caller in callers for action, resource in _data_requests(bucket, policy)]
    if policy and all(evaluate(policy, r, "bucket policy").outcome == "denied" for r in requests):
        return Check("TLS-only bucket policy", target, "pass", "denies s3:* without aws:SecureTransport")
    statement = {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                 "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    return Check("TLS-only bucket policy", target, "fail",
                 "no bucket policy statement denies requests without TLS" if policy else "no bucket policy",
                 f"add this statement to the bucket policy (aws s3api put-bucket-policy; Terraform: aws_s3_bucket_policy): "
                 f"{json.dumps(statement, separators=(',', ':'))}")


def _outsiders(policy: list[dict], account: str) -> dict[str, Principal]:
    """Anyone (anonymous), a principal of another account, and each principal of another account the policy names."""
    stranger = f"arn:aws:iam::{policies.another_account(account)}:role/any-role"
    found = {"anyone (anonymous)": ANONYMOUS, "any principal of another AWS account": Principal("AWS", stranger)}
    for statement in policy:
        principal = statement.get("Principal")
        for value in map(str, policies.as_list(principal.get("AWS") if isinstance(principal, dict) else None)):
            arn = value if value.startswith("arn:") else f"arn:aws:iam::{value}:root"
            if value != "*" and policies.account_of(arn) != account:
                found[arn] = Principal("AWS", arn)
    return found


def outside_access_check(policy: list[dict] | None, bucket: str, target: str, account: str) -> Check:
    """Who else can read or write the bucket: any public or cross-account principal is a failure. An outsider's
    own account may grant it anything, so the bucket policy alone decides (cross-account evaluation)."""
    decisions: list[tuple[str, Decision]] = []
    for who, principal in _outsiders(policy or [], account).items():
        for action, resource in _data_requests(bucket, policy):
            request = Request(action, resource, principal, {"aws:SecureTransport": ("true",)})
            decisions.append((f"{who}: {action}", evaluate(policy or [], request, "bucket policy")))
    granted = [(what, d) for what, d in decisions if d.outcome in ("allowed", "account")]
    if granted:
        statements = sorted({s for _, d in granted for s in d.deciding})
        return Check("access from outside the account", target, "fail",
                     f"{'; '.join(dict.fromkeys(what for what, _ in granted))} ({', '.join(statements)})",
                     f"remove {', '.join(statements)} from the bucket policy (aws s3api put-bucket-policy; Terraform: "
                     "aws_s3_bucket_policy): the stack's roles need no bucket-policy grant")
    unknown = policies.unknown_conditions(decisions)
    if unknown:
        return Check("access from outside the account", target, "warn", "; ".join(dict.fromkeys(unknown)),
                     "make the condition one preflight can read (aws:PrincipalAccount, aws:PrincipalArn), or check it by hand")
    return Check("access from outside the account", target, "pass", f"no principal outside account {account} may read or write")
