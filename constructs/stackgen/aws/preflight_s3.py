"""Preflight of one bucket: region, default encryption, versioning, public access block, TLS-only
policy, and its lifecycle rules against the retention of the component that reads it."""
from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError

from stackgen.aws.preflight_bucket_policy import outside_access_check, tls_only_check
from stackgen.aws.report import Check
from stackgen.aws.session import Aws, error_code

PUBLIC_ACCESS_BLOCK = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
ARCHIVES = {"GLACIER": "Glacier Flexible Retrieval", "DEEP_ARCHIVE": "Glacier Deep Archive"}
INSTANT = "GLACIER_IR"


@dataclass(frozen=True)
class BucketUse:
    component: str
    bucket: str
    key: str  # the overlay key naming the bucket
    retention_days: float | None  # None: the data never expires (Mimir's rule groups)
    retention_key: str
    reader: str  # what reads the objects, for the messages


def _get(aws: Aws, operation: str, bucket: str, missing: str) -> dict | None:
    try:
        return aws.call("s3", operation, Bucket=bucket)
    except ClientError as error:
        if error_code(error) == missing:
            return None
        raise


def check_bucket(aws: Aws, use: BucketUse, region: str, kms_key_arn: str | None, account: str,
                 policy: list[dict] | None) -> list[Check]:
    """`policy`: the bucket's policy statements (preflight_bucket_policy.bucket_policy), None without one."""
    bucket, target = use.bucket, f"s3://{use.bucket} ({use.key})"
    try:
        location = aws.call("s3", "get_bucket_location", Bucket=bucket).get("LocationConstraint") or "us-east-1"
    except ClientError as error:
        if error_code(error) != "NoSuchBucket":
            raise
        return [Check("bucket exists", target, "fail", "no such bucket",
                      f"create it in {region} (aws s3api create-bucket --bucket {bucket} --create-bucket-configuration "
                      f"LocationConstraint={region}; Terraform: aws_s3_bucket), or set {use.key} to an existing bucket "
                      "(aws discover)")]
    checks = [Check("bucket region", target, "pass" if location == region else "fail", f"in {location}",
                    "" if location == region else f"use a bucket in {region} or set aws.region: {location} "
                    "(a bucket cannot move between regions)")]
    checks.append(_encryption(aws, bucket, target, kms_key_arn))
    checks.append(_versioning(aws, bucket, target))
    checks.append(_public_access_block(aws, bucket, target))
    checks.append(tls_only_check(policy, bucket, target, account))
    checks.append(outside_access_check(policy, bucket, target, account))
    checks += _lifecycle(aws, use, target)
    found = aws.call("s3", "list_bucket_intelligent_tiering_configurations", Bucket=bucket)
    checks.append(intelligent_tiering_check(found.get("IntelligentTieringConfigurationList", []), use, target))
    return checks


def intelligent_tiering_check(configurations: list[dict], use: BucketUse, target: str) -> Check:
    """Intelligent-Tiering's archive tiers move objects nobody read for N days, whatever their age: the
    older chunks and blocks, read rarely but read, become unreadable until restored."""
    archived = [f"{c.get('Id')} ({t['AccessTier']} after {t['Days']} days without access)" for c in configurations
                if c.get("Status") == "Enabled" for t in c.get("Tierings", [])]
    if not archived:
        return Check("intelligent-tiering archive tiers", target, "pass", "no archive tier configured")
    names = sorted({c.get("Id") for c in configurations if c.get("Tierings")})
    return Check("intelligent-tiering archive tiers", target, "fail",
                 f"{'; '.join(archived)}: {use.reader} cannot read archived objects",
                 f"aws s3api delete-bucket-intelligent-tiering-configuration --bucket {use.bucket} --id "
                 f"{names[0]} (Terraform: aws_s3_bucket_intelligent_tiering_configuration without tiering blocks); "
                 "Intelligent-Tiering's frequent and infrequent access tiers alone are safe")


def _encryption(aws: Aws, bucket: str, target: str, kms_key_arn: str | None) -> Check:
    """Exactly aws.kms_key_arn when the overlay names a key: SSE-S3 and SSE-KMS without KMSMasterKeyID (the
    AWS managed key aws/s3, which S3 creates and uses when no key is given: S3 API reference,
    ServerSideEncryptionByDefault) encrypt under a key whose policy nobody here controls or audits."""
    fix = (f"aws s3api put-bucket-encryption --bucket {bucket} --server-side-encryption-configuration "
           "'{\"Rules\":[{\"ApplyServerSideEncryptionByDefault\":{\"SSEAlgorithm\":\"aws:kms\",\"KMSMasterKeyID\":\""
           f"{kms_key_arn or '<key arn>'}\"}},\"BucketKeyEnabled\":true}}]}}' (Terraform: "
           "aws_s3_bucket_server_side_encryption_configuration, sse_algorithm = \"aws:kms\", kms_master_key_id)")
    found = _get(aws, "get_bucket_encryption", bucket, "ServerSideEncryptionConfigurationNotFoundError")
    rules = (found or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    default = next((r["ApplyServerSideEncryptionByDefault"] for r in rules if "ApplyServerSideEncryptionByDefault" in r), None)
    if default is None:
        return Check("default encryption", target, "fail", "no default encryption", fix)
    algorithm, key = default.get("SSEAlgorithm"), default.get("KMSMasterKeyID", "")
    status = "fail" if kms_key_arn else "warn"  # without aws.kms_key_arn there is no key to hold the bucket to
    if algorithm == "AES256":
        return Check("default encryption", target, status, "SSE-S3 (AES256, S3-managed keys) is in use, not SSE-KMS"
                     + (f" with aws.kms_key_arn {kms_key_arn}" if kms_key_arn else ""), fix)
    if not key:
        return Check("default encryption", target, status, f"SSE-KMS ({algorithm}) with the AWS managed key aws/s3"
                     + (f", not aws.kms_key_arn {kms_key_arn}" if kms_key_arn else ""), fix)
    if kms_key_arn and _key_arn(aws, key) != kms_key_arn:
        return Check("default encryption", target, "fail", f"SSE-KMS with {key}, not aws.kms_key_arn {kms_key_arn}",
                     f"{fix}; or set aws.kms_key_arn to the bucket's key")
    return Check("default encryption", target, "pass", f"SSE-KMS ({algorithm}) with {key}")


def _key_arn(aws: Aws, key: str) -> str:
    try:
        return aws.call("kms", "describe_key", KeyId=key)["KeyMetadata"]["Arn"]
    except ClientError:
        return key


def _versioning(aws: Aws, bucket: str, target: str) -> Check:
    status = aws.call("s3", "get_bucket_versioning", Bucket=bucket).get("Status", "never enabled")
    if status == "Enabled":
        return Check("versioning", target, "pass", "Enabled")
    return Check("versioning", target, "fail", f"versioning {status}: an overwrite or delete cannot be undone",
                 f"aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration Status=Enabled "
                 "(Terraform: aws_s3_bucket_versioning, versioning_configuration.status = \"Enabled\")")


def _public_access_block(aws: Aws, bucket: str, target: str) -> Check:
    found = _get(aws, "get_public_access_block", bucket, "NoSuchPublicAccessBlockConfiguration")
    settings = (found or {}).get("PublicAccessBlockConfiguration", {})
    off = [name for name in PUBLIC_ACCESS_BLOCK if not settings.get(name)]
    if not off:
        return Check("public access block", target, "pass", "all four settings on")
    return Check("public access block", target, "fail", f"off: {', '.join(off)}",
                 f"aws s3api put-public-access-block --bucket {bucket} --public-access-block-configuration "
                 "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true "
                 "(Terraform: aws_s3_bucket_public_access_block, all four arguments true)")


def _days(value: float) -> str:
    return f"{value:g} days"


def _lifecycle(aws: Aws, use: BucketUse, target: str) -> list[Check]:
    found = _get(aws, "get_bucket_lifecycle_configuration", use.bucket, "NoSuchLifecycleConfiguration")
    rules = [r for r in (found or {}).get("Rules", []) if r.get("Status") == "Enabled"]
    checks = []
    retention = use.retention_days
    limit = f"{use.retention_key} ({_days(retention)})" if retention is not None else "never (its objects do not expire)"
    lifecycle_fix = (f"change the rule (aws s3api put-bucket-lifecycle-configuration --bucket {use.bucket}; Terraform: "
                     "aws_s3_bucket_lifecycle_configuration)")
    for rule in rules:
        name = rule.get("ID", "(no id)")
        for transition in rule.get("Transitions", []):
            storage, days = transition.get("StorageClass"), transition.get("Days")
            early = days is None or retention is None or days <= retention
            when = f"after {_days(days)}" if days is not None else f"on {transition.get('Date')}"
            if storage in ARCHIVES and early:
                checks.append(Check("lifecycle: archive transition", target, "fail",
                                    f"rule {name} moves objects to {ARCHIVES[storage]} {when}, not after {limit}: "
                                    f"{use.reader} cannot read archived objects",
                                    f"{lifecycle_fix}: remove the transition, or move it after the retention; "
                                    "Intelligent-Tiering without its archive tiers is safe"))
            elif storage == INSTANT and early:
                checks.append(Check("lifecycle: archive transition", target, "warn",
                                    f"rule {name} moves objects to Glacier Instant Retrieval {when}: readable, but every "
                                    "read is charged per GB retrieved and objects are billed for at least 90 days",
                                    f"{lifecycle_fix} if {use.reader} reads these objects often"))
        expiration = rule.get("Expiration", {})
        if "Days" in expiration or "Date" in expiration:
            days = expiration.get("Days")
            if days is None or retention is None or days <= retention:
                when = f"after {_days(days)}" if days is not None else f"on {expiration['Date']}"
                checks.append(Check("lifecycle: expiration", target, "fail",
                                    f"rule {name} deletes objects {when}, not after {limit}: data {use.reader} still serves",
                                    f"{lifecycle_fix}: expire only after {limit}, or let the component's retention delete"))
    if not checks:
        checks.append(Check("lifecycle vs retention", target, "pass",
                            f"no archive transition or expiration before {limit}"))
    if any("AbortIncompleteMultipartUpload" in r for r in rules):
        checks.append(Check("lifecycle: abort incomplete multipart uploads", target, "pass", "rule present"))
    else:
        checks.append(Check("lifecycle: abort incomplete multipart uploads", target, "fail",
                            "no rule aborts incomplete multipart uploads: their parts are stored and billed forever",
                            f"{lifecycle_fix}: add a rule with AbortIncompleteMultipartUpload DaysAfterInitiation=7 "
                            "(Terraform: abort_incomplete_multipart_upload { days_after_initiation = 7 })"))
    if not any("NoncurrentVersionExpiration" in r for r in rules):
        checks.append(Check("lifecycle: noncurrent versions", target, "warn",
                            "no rule expires noncurrent versions: with versioning on, what the retention deletes stays "
                            "as noncurrent versions and is never freed",
                            f"{lifecycle_fix}: add NoncurrentVersionExpiration NoncurrentDays=30 "
                            "(Terraform: noncurrent_version_expiration { noncurrent_days = 30 })"))
    return checks
