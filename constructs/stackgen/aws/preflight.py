"""`aws preflight --overlay X`: everything the overlay references, checked against AWS before Flux applies it.

The roles and subjects come from the rendered ServiceAccounts in dist/<overlay> (what the cluster will
run); the buckets, retentions and key from the overlay. Each check is a row; any failure exits non-zero.
"""
from __future__ import annotations

from pathlib import Path

from botocore.exceptions import ClientError

from stackgen.aws import policies
from stackgen.aws.discover import ClusterFacts, describe_cluster
from stackgen.aws.preflight_bucket_policy import bucket_policy
from stackgen.aws.preflight_iam import KMS_OBJECT_ACTIONS, RoleUse, check_kms_key, check_role, role_statements
from stackgen.aws.preflight_s3 import BucketUse, check_bucket
from stackgen.aws.report import Check, progress
from stackgen.aws.session import AccessDenied, Aws, AwsError, error_code
from stackgen.checks.placeholders import placeholder_checks, reserved
from stackgen.components.external_secrets import remote_name, secrets_by_name
from stackgen.config import StackConfig
from stackgen.lib.backend import IRSA_ANNOTATION
from stackgen.settings import duration_seconds
from stackgen.validate import load_tree

ROLE_KEYS = {"loki": "loki.role_arn", "tempo": "tempo.role_arn", "mimir": "mimir.role_arn",
             "grafana": "grafana.role_arn", "external-secrets": "secrets.role_arn"}
OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
# What Grafana's CloudWatch and X-Ray datasources call.
GRAFANA_ACTIONS = ("cloudwatch:GetMetricData", "cloudwatch:ListMetrics", "logs:StartQuery", "logs:GetQueryResults",
                   "xray:GetTraceSummaries", "xray:BatchGetTraces")
PLACEHOLDER_TAG = "monitoring.openemr.io/placeholder"


def bucket_uses(stack: StackConfig) -> list[BucketUse]:
    def days(duration: str) -> float:
        return duration_seconds(duration) / 86400
    return [
        BucketUse("loki", stack.loki.bucket, "loki.bucket", days(stack.loki.retention), "loki.retention", "Loki"),
        BucketUse("tempo", stack.tempo.bucket, "tempo.bucket", days(stack.tempo.retention), "tempo.retention", "Tempo"),
        BucketUse("mimir", stack.mimir.blocks_bucket, "mimir.blocks_bucket", days(stack.mimir.retention),
                  "mimir.retention", "Mimir"),
        BucketUse("mimir", stack.mimir.ruler_bucket, "mimir.ruler_bucket", None, "mimir.ruler_bucket", "Mimir's ruler"),
    ]


def _needs(stack: StackConfig, component: str, region: str, account: str) -> tuple[tuple[str, str], ...]:
    if component == "grafana":
        return tuple((action, "*") for action in GRAFANA_ACTIONS)
    if component == "external-secrets":
        # Secrets Manager appends six random characters to each secret's ARN.
        return tuple(("secretsmanager:GetSecretValue",
                      f"arn:aws:secretsmanager:{region}:{account}:secret:{remote_name(stack, name)}-AbCdEf")
                     for name in secrets_by_name(stack))
    needs: list[tuple[str, str]] = []
    for use in (u for u in bucket_uses(stack) if u.component == component):
        needs.append(("s3:ListBucket", f"arn:aws:s3:::{use.bucket}"))
        needs += [(action, f"arn:aws:s3:::{use.bucket}/*") for action in OBJECT_ACTIONS]
    return tuple(needs)


def _outside(component: str, region: str, account: str) -> tuple[tuple[str, str], ...]:
    """What the role must not be able to do: the same actions on a resource that is not the stack's."""
    if component == "external-secrets":
        return (("secretsmanager:GetSecretValue",
                 f"arn:aws:secretsmanager:{region}:{account}:secret:another-application/credentials-AbCdEf"),)
    if component in ("loki", "tempo", "mimir"):
        return (("s3:GetObject", "arn:aws:s3:::another-application-bucket/object"),)
    return ()  # Grafana's CloudWatch and X-Ray reads take no resource narrower than "*"


def rendered_objects(dist_overlay: Path) -> list[dict]:
    """What Flux applies for the overlay: its platform and operators stages and itself (not the CRDs)."""
    if not (dist_overlay / "kustomization.yaml").exists():
        raise AwsError(f"{dist_overlay} does not exist: render it first (python main.py --overlay {dist_overlay.name})")
    return load_tree(dist_overlay, with_platform=True)


def role_uses(stack: StackConfig, objects: list[dict], overlay: str) -> tuple[list[RoleUse], list[Check]]:
    """The IRSA ServiceAccounts as rendered, with the role the overlay gives each (stale dist/ is a failure)."""
    uses, checks = [], []
    for obj in objects:
        role_arn = (obj["metadata"].get("annotations") or {}).get(IRSA_ANNOTATION)
        if obj["kind"] != "ServiceAccount" or not role_arn:
            continue
        name, namespace = obj["metadata"]["name"], obj["metadata"]["namespace"]
        key = ROLE_KEYS.get(name, f"ServiceAccount {name}")
        configured = _get(stack, key)
        if configured and configured != role_arn:
            checks.append(Check("rendered ServiceAccount", f"{namespace}/{name}", "fail",
                                f"dist/ names {role_arn}, the overlay {configured}: dist/ is stale",
                                f"python main.py --overlay {overlay}"))
        account = policies.account_of(role_arn)
        kms = {"grafana": (), "external-secrets": ("kms:Decrypt",)}.get(name, KMS_OBJECT_ACTIONS)
        region = stack.aws.region
        uses.append(RoleUse(key, role_arn, namespace, name, _needs(stack, name, region, account), kms,
                            _outside(name, region, account), "secretsmanager" if name == "external-secrets" else "s3"))
    return uses, checks


def _get(stack: StackConfig, key: str) -> str | None:
    section, _, field = key.partition(".")
    return getattr(getattr(stack, section, None), field, None) if field else None


def role_account_checks(uses: list[RoleUse], cluster: ClusterFacts) -> tuple[list[RoleUse], list[Check]]:
    """Roles by ARN: a role outside the cluster's account is its own failure and is not looked up (a role of
    the same name in the caller's account is not the one the overlay names), nor is a placeholder role (its
    row is the placeholder check's). Returns the roles to check."""
    checks, local = [], []
    for use in uses:
        if reserved(use.role_arn):
            continue
        if cluster.account and use.account != cluster.account:
            checks.append(Check("role account", use.target, "fail",
                                f"{use.role_arn} is in account {use.account}, the cluster {cluster.name} in {cluster.account}: "
                                f"IRSA trusts the cluster's OIDC provider, which IAM holds in {cluster.account}, and "
                                "preflight cannot read the role",
                                f"set {use.key} to a role in account {cluster.account} (python main.py aws discover "
                                f"--overlay <overlay> finds {cluster.name}-{use.service_account})"))
        else:
            local.append(use)
    return local, checks


def secret_entry_checks(aws: Aws, stack: StackConfig, overlay: str) -> list[Check]:
    checks = []
    for name, keys in secrets_by_name(stack).items():
        remote = remote_name(stack, name)
        try:
            entry = aws.call("secretsmanager", "describe_secret", SecretId=remote)
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
            checks.append(Check("Secrets Manager entry", remote, "fail", f"missing: Secret {name} cannot be produced",
                                f"python main.py aws secrets bootstrap --overlay {overlay}"))
            continue
        tags = {t["Key"]: t["Value"] for t in entry.get("Tags", [])}
        if entry.get("DeletedDate"):  # scheduled for deletion: its value cannot be read (DescribeSecret, DeletedDate)
            checks.append(Check("Secrets Manager entry", remote, "fail",
                                f"scheduled for deletion on {entry['DeletedDate']}: reading it is refused, Secret {name} "
                                "cannot be produced", f"aws secretsmanager restore-secret --secret-id {remote}"))
        elif tags.get(PLACEHOLDER_TAG) == "true":
            checks.append(Check("Secrets Manager entry", remote, "fail",
                                f"still holds placeholders for {', '.join(k.key for k in keys if k.source == 'user')}",
                                f"aws secretsmanager put-secret-value --secret-id {remote} --secret-string '<JSON with "
                                f"{', '.join(k.key for k in keys)}>' && aws secretsmanager untag-resource --secret-id "
                                f"{remote} --tag-keys {PLACEHOLDER_TAG}"))
        else:
            checks.append(Check("Secrets Manager entry", remote, "pass", "exists"))
    return checks


def _guarded(what: str, target: str, run) -> list[Check]:
    """A check the caller may not be allowed to make is a failing row, not the end of the run."""
    try:
        return run()
    except AccessDenied as error:
        return [Check(what, target, "fail", str(error), str(error).rsplit("; ", 1)[-1])]


def preflight(aws: Aws, stack: StackConfig, dist_overlay: Path) -> list[Check]:
    if aws.region != stack.aws.region:
        raise AwsError(f"the session's region {aws.region} is not the overlay's aws.region {stack.aws.region}")
    objects = rendered_objects(dist_overlay)
    checks = placeholder_checks(stack, dist_overlay.name, objects, f"dist/{dist_overlay.name}")
    uses, stale = role_uses(stack, objects, dist_overlay.name)
    checks += stale
    progress(f"reading EKS cluster {stack.cluster_name} in {aws.region}")
    cluster = describe_cluster(aws, stack.cluster_name)
    uses, foreign = role_account_checks(uses, cluster)
    checks += foreign
    account = cluster.account or (uses[0].account if uses else "")
    key = stack.aws.kms_key_arn
    bucket_policies: dict[str, list[dict] | None] = {}  # read once, for the buckets' rows and the roles'
    for use in bucket_uses(stack):
        progress(f"checking s3://{use.bucket} ({use.key}): region, encryption, versioning, public access, policy, lifecycle")
        checks += _guarded("bucket", use.bucket, lambda u=use: check_bucket(
            aws, u, stack.aws.region, key, account, bucket_policies.setdefault(u.bucket, bucket_policy(aws, u.bucket))))
    providers: set[str] = set()
    try:
        providers = {p["Arn"] for p in aws.call("iam", "list_open_id_connect_providers")["OpenIDConnectProviderList"]}
    except AccessDenied as error:
        checks.append(Check("OIDC providers", "iam", "fail", str(error), "grant the caller iam:ListOpenIDConnectProviders"))
    identity_policies = {}
    for use in uses:
        progress(f"checking role {use.name} for {use.subject}: trust policy, permissions")
        checks += _guarded("role", use.name, lambda u=use: check_role(aws, u, cluster.oidc_issuer, providers,
                                                                       bucket_policies, account))
        try:
            identity_policies[use.role_arn] = role_statements(aws, use.name)
        except (ClientError, AccessDenied):
            identity_policies[use.role_arn] = []
    if key:
        progress(f"checking the state and key policy of {key}")
        checks += _guarded("KMS key", key, lambda: check_kms_key(aws, key, uses, identity_policies))
    if stack.secrets.provider == "aws":
        progress("checking the Secrets Manager entries the ExternalSecrets read")
        checks += _guarded("Secrets Manager", "secretsmanager", lambda: secret_entry_checks(aws, stack, dist_overlay.name))
    return checks
