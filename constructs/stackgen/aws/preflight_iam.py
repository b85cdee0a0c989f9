"""Preflight of each IRSA role: its trust policy names the cluster's OIDC provider and exactly the
rendered ServiceAccount, its permissions cover what the component does, and the KMS key lets it in."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from botocore.exceptions import ClientError

from stackgen.aws import policies
from stackgen.aws.report import Check
from stackgen.aws.session import Aws, error_code

WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
AUDIENCE = "sts.amazonaws.com"
# Reading and writing SSE-KMS objects; reading Secrets Manager entries needs only Decrypt.
KMS_OBJECT_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")


@dataclass(frozen=True)
class RoleUse:
    """A rendered IRSA ServiceAccount, the role it names, and what the component does with it."""
    key: str  # the overlay key of the role
    role_arn: str
    namespace: str
    service_account: str
    needs: tuple[tuple[str, str], ...]  # (action, resource)
    kms_actions: tuple[str, ...]  # what it does with aws.kms_key_arn
    outside: tuple[tuple[str, str], ...] = ()  # the same actions on resources not the stack's: must be denied

    @property
    def subject(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"

    @property
    def name(self) -> str:
        return self.role_arn.rsplit("/", 1)[1]


def provider_arn(account: str, issuer: str) -> str:
    return f"arn:aws:iam::{account}:oidc-provider/{issuer.removeprefix('https://')}"


def _document(document) -> list[dict]:
    # IAM returns policy documents decoded by boto3; recorded ones may still be URL-encoded JSON text.
    return policies.statements(unquote(document) if isinstance(document, str) else document)


def role_statements(aws: Aws, role_name: str) -> list[dict]:
    """The role's identity policies: inline and attached (each attached at its default version)."""
    found = []
    for name in aws.call("iam", "list_role_policies", RoleName=role_name).get("PolicyNames", []):
        found += _document(aws.call("iam", "get_role_policy", RoleName=role_name, PolicyName=name)["PolicyDocument"])
    for attached in aws.call("iam", "list_attached_role_policies", RoleName=role_name).get("AttachedPolicies", []):
        policy = aws.call("iam", "get_policy", PolicyArn=attached["PolicyArn"])["Policy"]
        version = aws.call("iam", "get_policy_version", PolicyArn=attached["PolicyArn"],
                           VersionId=policy["DefaultVersionId"])["PolicyVersion"]
        found += _document(version["Document"])
    return found


def trust_problems(trust: list[dict], provider: str, issuer: str, subject: str) -> list[str]:
    """What is wrong with a trust policy for IRSA; empty when it admits exactly `subject` through `provider`."""
    host = issuer.removeprefix("https://")
    web = [s for s in trust if s.get("Effect") == "Allow" and policies.covers_action(s, WEB_IDENTITY)]
    ours = [s for s in web if provider in policies.principals(s, "Federated")]
    if not ours:
        others = sorted({p for s in web for p in policies.principals(s, "Federated")})
        return [f"no statement allows {WEB_IDENTITY} for the cluster's OIDC provider {provider}"
                + (f" (it names {', '.join(others)})" if others else "")]
    problems = []
    for statement in ours:
        audience = policies.condition_values(statement, "StringEquals", f"{host}:aud")
        if audience != [AUDIENCE]:
            problems.append(f"condition StringEquals {host}:aud is {audience}, must be [{AUDIENCE!r}]"
                            if audience else f"no condition StringEquals {host}:aud = {AUDIENCE}")
        subjects = policies.condition_values(statement, "StringEquals", f"{host}:sub")
        if subjects != [subject]:
            like = policies.condition_values(statement, "StringLike", f"{host}:sub")
            if subjects:
                problems.append(f"condition StringEquals {host}:sub is {subjects}, must be exactly [{subject!r}]")
            elif like:
                problems.append(f"{host}:sub is matched with StringLike {like}: it must be StringEquals exactly {subject}")
            else:
                problems.append(f"no condition {host}:sub: every ServiceAccount of the cluster may assume the role")
    return problems


def check_role(aws: Aws, use: RoleUse, issuer: str, providers: set[str]) -> list[Check]:
    target = f"{use.name} ({use.key})"
    try:
        role = aws.call("iam", "get_role", RoleName=use.name)["Role"]
    except ClientError as error:
        if error_code(error) != "NoSuchEntity":
            raise
        return [Check("role exists", target, "fail", f"no role {use.role_arn}",
                      f"create it (Terraform: aws_iam_role) or set {use.key} to an existing role (aws discover)")]
    provider = provider_arn(policies.account_of(use.role_arn), issuer)
    checks = []
    if provider not in providers:
        checks.append(Check("OIDC provider", target, "fail", f"IAM has no OIDC provider {provider} for the cluster's issuer",
                            f"eksctl utils associate-iam-oidc-provider --cluster <cluster> --approve, or "
                            f"aws iam create-open-id-connect-provider --url {issuer} --client-id-list {AUDIENCE} "
                            "(Terraform: aws_iam_openid_connect_provider)"))
    problems = trust_problems(_document(role["AssumeRolePolicyDocument"]), provider, issuer, use.subject)
    trust_fix = (f"trust policy (aws iam update-assume-role-policy; Terraform: aws_iam_role.assume_role_policy): Allow "
                 f"{WEB_IDENTITY}, Principal.Federated {provider}, Condition StringEquals "
                 f"{{\"{issuer.removeprefix('https://')}:aud\": \"{AUDIENCE}\", "
                 f"\"{issuer.removeprefix('https://')}:sub\": \"{use.subject}\"}}")
    checks.append(Check("trust policy", target, "fail" if problems else "pass",
                        "; ".join(problems) or f"admits exactly {use.subject}", trust_fix if problems else ""))
    statements = role_statements(aws, use.name)
    missing = [f"{action} on {resource}" for action, resource in use.needs
               if not policies.allowed(statements, action, resource)]
    actions = sorted({a for a, _ in use.needs})
    checks.append(Check("permissions", target, "fail" if missing else "pass",
                        f"not allowed: {'; '.join(missing)}" if missing else f"allows {', '.join(actions)}",
                        f"add to the role's policy (aws iam put-role-policy; Terraform: aws_iam_role_policy): "
                        f"{'; '.join(missing)}" if missing else ""))
    broader = [f"{action} on {resource}" for action, resource in use.outside if policies.allowed(statements, action, resource)]
    if use.outside:
        checks.append(Check("least privilege", target, "warn" if broader else "pass",
                            f"also allows {'; '.join(broader)}: the policy's Resource is broader than the stack's"
                            if broader else "denies the same actions on other resources",
                            "narrow the policy's Resource to the stack's buckets or secret prefix" if broader else ""))
    return checks


def check_kms_key(aws: Aws, key_arn: str, uses: list[RoleUse], identity_policies: dict[str, list[dict]]) -> list[Check]:
    """The key policy lets each role use the key, directly or by delegating to IAM (the account root)."""
    target = f"{key_arn} (aws.kms_key_arn)"
    try:
        policy = aws.call("kms", "get_key_policy", KeyId=key_arn, PolicyName="default")["Policy"]
    except ClientError as error:
        if error_code(error) not in ("NotFoundException", "NotFound"):
            raise
        return [Check("KMS key", target, "fail", "no such key", "set aws.kms_key_arn to the buckets' key (aws discover)")]
    statements = policies.statements(policy)
    checks = []
    for use in (u for u in uses if u.kms_actions):
        denied = []
        for action in use.kms_actions:
            how = {policies.names_principal(s, use.role_arn) for s in statements
                   if s.get("Effect") == "Allow" and policies.covers_action(s, action)}
            direct = how & {"role", "*"}
            delegated = "account" in how and policies.allowed(identity_policies.get(use.role_arn, []), action, key_arn)
            if not direct and not delegated:
                denied.append(action)
        checks.append(Check("KMS key policy", f"{use.name} ({use.key})", "fail" if denied else "pass",
                            f"the key policy of {key_arn} does not let the role use {', '.join(denied)}" if denied
                            else "the role may use the key",
                            f"add to the key policy (aws kms put-key-policy; Terraform: aws_kms_key.policy) a statement "
                            f"allowing {', '.join(denied)} to Principal {use.role_arn}, or allow the account root and "
                            f"grant the role {', '.join(denied)} on the key in IAM" if denied else ""))
    return checks
