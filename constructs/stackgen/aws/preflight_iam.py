"""Preflight of each IRSA role: its trust policy admits exactly the rendered ServiceAccount through the
cluster's OIDC provider and nobody else, its permissions cover what the component does once every Deny
applies, and the KMS key is usable by it. Every document goes through the one evaluator (aws/policies.py)."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from botocore.exceptions import ClientError

from stackgen.aws import policies
from stackgen.aws.policies import Decision, Principal, Request, access, evaluate
from stackgen.aws.preflight_bucket_policy import object_patterns
from stackgen.aws.report import Check
from stackgen.aws.session import Aws, error_code

WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
AUDIENCE = "sts.amazonaws.com"
# Reading and writing SSE-KMS objects; reading Secrets Manager entries needs only Decrypt.
KMS_OBJECT_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
# Every SDK call of the stack's components goes over TLS.
TLS = {"aws:SecureTransport": ("true",)}


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
    kms_via: str = "s3"  # the service that calls KMS for it (kms:ViaService)

    @property
    def subject(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"

    @property
    def name(self) -> str:
        return self.role_arn.rsplit("/", 1)[1]  # a role ARN ends with the name, after any path

    @property
    def account(self) -> str:
        return policies.account_of(self.role_arn)

    @property
    def target(self) -> str:
        return f"{self.name} ({self.key})"

    def request(self, action: str, resource: str, **context) -> Request:
        return Request(action, resource, Principal("AWS", self.role_arn), {**TLS, **context})


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


def _unknown(decisions: list[tuple[str, Decision]]) -> str:
    return "; ".join(policies.unknown_conditions(decisions))


# --- Trust -------------------------------------------------------------------------------------------------

def _web_identity(provider: str, subject: str) -> Request:
    host = provider.split(":oidc-provider/", 1)[-1]
    return Request(WEB_IDENTITY, "", Principal("Federated", provider),
                   {**TLS, f"{host}:sub": (subject,), f"{host}:aud": (AUDIENCE,)})


def trust_problems(trust: list[dict], provider: str, issuer: str, subject: str) -> list[str]:
    """What is wrong with a trust policy for IRSA; empty when it admits exactly `subject` through `provider`."""
    host = issuer.removeprefix("https://")
    web = [s for s in trust if s.get("Effect") == "Allow" and policies.covers_action(s, WEB_IDENTITY)]
    ours = [s for s in web if provider in policies.as_list((s.get("Principal") or {}).get("Federated"))]
    if not ours:
        others = sorted({str(p) for s in web for p in policies.as_list((s.get("Principal") or {}).get("Federated"))})
        return [f"no statement allows {WEB_IDENTITY} for the cluster's OIDC provider {provider}"
                + (f" (it names {', '.join(others)})" if others else "")]
    problems = []
    for statement in ours:
        audience = _condition_values(statement, "StringEquals", f"{host}:aud")
        if audience != [AUDIENCE]:
            problems.append(f"condition StringEquals {host}:aud is {audience}, must be [{AUDIENCE!r}]"
                            if audience else f"no condition StringEquals {host}:aud = {AUDIENCE}")
        subjects = _condition_values(statement, "StringEquals", f"{host}:sub")
        if subjects != [subject]:
            like = _condition_values(statement, "StringLike", f"{host}:sub")
            if subjects:
                problems.append(f"condition StringEquals {host}:sub is {subjects}, must be exactly [{subject!r}]")
            elif like:
                problems.append(f"{host}:sub is matched with StringLike {like}: it must be StringEquals exactly {subject}")
            else:
                problems.append(f"no condition {host}:sub: every ServiceAccount of the cluster may assume the role")
    return problems


def _condition_values(statement: dict, operator: str, key: str) -> list[str] | None:
    block = (statement.get("Condition") or {}).get(operator) or {}
    return next(([str(v) for v in policies.as_list(values)] for name, values in block.items()
                 if name.lower() == key.lower()), None)


def _candidates(trust: list[dict], use: RoleUse, provider: str) -> dict[str, Request]:
    """Who might assume the role besides the ServiceAccount: a principal of another account, another of the
    role's own, other ServiceAccounts of the cluster (those the policy names, another in the namespace, one of
    the same name in another namespace), the same ServiceAccount in another cluster, and every principal the
    policy names."""
    host = provider.split(":oidc-provider/", 1)[-1]
    assume = lambda principal: Request("sts:AssumeRole", "", principal, dict(TLS))  # noqa: E731
    stranger = f"arn:aws:iam::{policies.another_account(use.account)}:role/any-role"
    found = {"any principal of another AWS account": assume(Principal("AWS", stranger)),
             f"another principal of account {use.account}":
                 assume(Principal("AWS", f"arn:aws:iam::{use.account}:role/another-role"))}
    subjects = {f"system:serviceaccount:{use.namespace}:another-service-account",
                f"system:serviceaccount:another-namespace:{use.service_account}"}
    for statement in trust:
        for block in (statement.get("Condition") or {}).values():
            subjects |= {str(v).replace("*", "any").replace("?", "x") for key, values in (block or {}).items()
                         if key.lower() == f"{host}:sub".lower() for v in policies.as_list(values)}
        principal = statement.get("Principal")
        for kind, values in (principal.items() if isinstance(principal, dict) else []):
            for value in map(str, policies.as_list(values)):
                if kind == "AWS" and value != "*":
                    arn = value if value.startswith("arn:") else f"arn:aws:iam::{value}:root"
                    found[arn] = assume(Principal("AWS", arn))
                elif kind == "Service":
                    found[f"the service {value}"] = assume(Principal("Service", value))
                elif kind == "Federated" and value != provider and ":oidc-provider/" in value:
                    found[f"{use.subject} through the OIDC provider {value}"] = _web_identity(value, use.subject)
                elif kind == "Federated" and value != provider:
                    found[value] = Request("sts:AssumeRoleWithSAML", "", Principal("Federated", value), dict(TLS))
    found.update({subject: _web_identity(provider, subject) for subject in sorted(subjects - {use.subject})})
    return found


def _trust_check(trust: list[dict], use: RoleUse, provider: str, problems: list[str], fix: str) -> Check:
    """The statement's form (trust_problems), then what the evaluator makes of the ServiceAccount's request."""
    ours = evaluate(trust, _web_identity(provider, use.subject), "trust policy")
    if not problems and ours.outcome == "denied":
        problems = [f"{', '.join(ours.deciding)} denies {use.subject}"]
    elif not problems and not ours.allowed and not ours.unknown:
        problems = [f"a condition of the statement does not hold for {use.subject}"]
    if problems:
        return Check("trust policy", use.target, "fail", "; ".join(problems), fix)
    unknown = _unknown([(use.subject, ours)])
    return Check("trust policy", use.target, "warn" if unknown else "pass", unknown or f"admits exactly {use.subject}",
                 "check the condition by hand: preflight does not know its value" if unknown else "")


def other_assumers_check(trust: list[dict], use: RoleUse, provider: str) -> Check:
    """Anything beyond the one ServiceAccount that may assume the role is a failure."""
    decisions = [(who, evaluate(trust, request, "trust policy")) for who, request in _candidates(trust, use, provider).items()]
    admitted = [(who, d) for who, d in decisions if d.outcome in ("allowed", "account")]
    if admitted:
        statements = sorted({s for _, d in admitted for s in d.deciding})
        return Check("trust policy: other principals", use.target, "fail",
                     f"also lets {'; '.join(who for who, _ in admitted)} assume the role ({', '.join(statements)})",
                     f"remove {', '.join(statements)} (aws iam update-assume-role-policy; Terraform: "
                     f"aws_iam_role.assume_role_policy): IRSA needs one statement, for {use.subject} only")
    unknown = _unknown(decisions)
    return Check("trust policy: other principals", use.target, "warn" if unknown else "pass",
                 unknown or "nobody else may assume the role",
                 "make the condition one preflight can read, or check it by hand" if unknown else "")


def check_role(aws: Aws, use: RoleUse, issuer: str, providers: set[str], bucket_policies: dict[str, list[dict] | None],
               account: str) -> list[Check]:
    try:
        role = aws.call("iam", "get_role", RoleName=use.name)["Role"]
    except ClientError as error:
        if error_code(error) != "NoSuchEntity":
            raise
        return [Check("role exists", use.target, "fail", f"no role {use.role_arn}",
                      f"create it (Terraform: aws_iam_role) or set {use.key} to an existing role (aws discover)")]
    provider = provider_arn(use.account, issuer)
    checks = []
    if provider not in providers:
        checks.append(Check("OIDC provider", use.target, "fail", f"IAM has no OIDC provider {provider} for the cluster's issuer",
                            f"eksctl utils associate-iam-oidc-provider --cluster <cluster> --approve, or "
                            f"aws iam create-open-id-connect-provider --url {issuer} --client-id-list {AUDIENCE} "
                            "(Terraform: aws_iam_openid_connect_provider)"))
    trust = _document(role["AssumeRolePolicyDocument"])
    problems = trust_problems(trust, provider, issuer, use.subject)
    host = issuer.removeprefix("https://")
    trust_fix = (f"trust policy (aws iam update-assume-role-policy; Terraform: aws_iam_role.assume_role_policy): Allow "
                 f"{WEB_IDENTITY}, Principal.Federated {provider}, Condition StringEquals "
                 f"{{\"{host}:aud\": \"{AUDIENCE}\", \"{host}:sub\": \"{use.subject}\"}}")
    checks.append(_trust_check(trust, use, provider, problems, trust_fix))
    checks.append(other_assumers_check(trust, use, provider))
    statements = role_statements(aws, use.name)
    checks.append(permissions_check(use, statements, bucket_policies, account))
    broader = [f"{action} on {resource}" for action, resource in use.outside
               if evaluate(statements, use.request(action, resource), "identity policy").allowed]
    if use.outside:
        checks.append(Check("least privilege", use.target, "warn" if broader else "pass",
                            f"also allows {'; '.join(broader)}: the policy's Resource is broader than the stack's"
                            if broader else "denies the same actions on other resources",
                            "narrow the policy's Resource to the stack's buckets or secret prefix" if broader else ""))
    return checks


# --- Permissions and the KMS key ---------------------------------------------------------------------------

RANK = {"denied": 0, "implicit": 1, "account": 1, "allowed": 2}  # the worst of several probes decides


def _bucket_of(resource: str) -> str | None:
    return resource.split(":::", 1)[1].split("/", 1)[0] if resource.startswith("arn:aws:s3:::") else None


def permissions_check(use: RoleUse, identity: list[dict], bucket_policies: dict[str, list[dict] | None],
                      account: str) -> Check:
    """Each action the component needs, with the role's policies and the bucket's policy, every Deny applied."""
    decisions = []
    for action, resource in use.needs:
        bucket = _bucket_of(resource)
        bucket_policy = bucket_policies.get(bucket or "")
        # A grant or Deny on part of the objects (a prefix) is probed where a policy names it.
        probes = [resource]
        if bucket and resource.endswith("/*"):
            probes += object_patterns(bucket, identity + (bucket_policy or []))
        found = []
        for probe in dict.fromkeys(probes):
            request = use.request(action, probe)
            by_bucket = evaluate(bucket_policy, request, "bucket policy") if bucket_policy else None
            by_role = evaluate(identity, request, "identity policy")
            found.append((f"{action} on {probe}", access(request, by_role, by_bucket, account)))
        decisions.append(min(found, key=lambda f: (RANK[f[1].outcome], -len(f[1].unknown))))
    denied = [f"{what} (by {', '.join(d.deciding)})" for what, d in decisions if d.outcome == "denied"]
    missing = [what for what, d in decisions if d.outcome not in ("allowed", "denied")]
    if denied or missing:
        detail, fixes = [], []
        if missing:
            detail.append(f"not allowed: {'; '.join(missing)}")
            fixes.append("add to the role's policy (aws iam put-role-policy; Terraform: aws_iam_role_policy): "
                         + "; ".join(missing))
        if denied:
            detail.append(f"denied: {'; '.join(denied)}")
            fixes.append("remove or narrow the Deny statements named (aws iam put-role-policy, aws s3api put-bucket-policy; "
                         "Terraform: aws_iam_role_policy, aws_s3_bucket_policy)")
        return Check("permissions", use.target, "fail", "; ".join(detail), "; ".join(fixes))
    unknown = _unknown(decisions)
    actions = sorted({a for a, _ in use.needs})
    return Check("permissions", use.target, "warn" if unknown else "pass",
                 f"allows {', '.join(actions)}" + (f", but {unknown}" if unknown else ""),
                 "check the condition by hand: preflight does not know its value" if unknown else "")


KEY_STATES = {  # KMS developer guide, "Key states of AWS KMS keys": only Enabled keys encrypt and decrypt
    "Disabled": ("every SSE-KMS read and write fails", "aws kms enable-key --key-id {key}"),
    "PendingDeletion": ("every SSE-KMS read and write fails, and on {date} the key and every object encrypted "
                        "with it are gone for good",
                        "aws kms cancel-key-deletion --key-id {key} && aws kms enable-key --key-id {key}"),
    "PendingReplicaDeletion": ("the key is being deleted with its replicas", "aws kms cancel-key-deletion --key-id {key}"),
    "PendingImport": ("the key has no key material (imported material deleted or expired): every SSE-KMS read "
                      "and write fails", "import the key material again (aws kms get-parameters-for-import, "
                      "aws kms import-key-material --key-id {key})"),
    "Unavailable": ("its custom key store is disconnected: every SSE-KMS read and write fails",
                    "aws kms connect-custom-key-store"),
}


def key_state_check(metadata: dict, target: str) -> Check:
    """From a DescribeKey KeyMetadata (real, or recorded where moto cannot produce the state)."""
    state, key = metadata.get("KeyState", "unknown"), metadata.get("Arn", "")
    if state == "Enabled":
        return Check("KMS key state", target, "pass", "Enabled")
    what, fix = KEY_STATES.get(state, (f"the key is {state}, not Enabled",
                                       "wait for the operation to finish, then run preflight again"))
    return Check("KMS key state", target, "fail" if state in KEY_STATES else "warn",
                 f"{state}: {what.format(date=metadata.get('DeletionDate', 'the deletion date'))}", fix.format(key=key))


def check_kms_key(aws: Aws, key_arn: str, uses: list[RoleUse], identity_policies: dict[str, list[dict]]) -> list[Check]:
    """The key is enabled, and its key policy lets each role use it (directly, or by delegating to the
    account's IAM policies), no Deny applying."""
    target = f"{key_arn} (aws.kms_key_arn)"
    try:
        metadata = aws.call("kms", "describe_key", KeyId=key_arn)["KeyMetadata"]
        policy = policies.statements(aws.call("kms", "get_key_policy", KeyId=key_arn, PolicyName="default")["Policy"])
    except ClientError as error:
        if error_code(error) not in ("NotFoundException", "NotFound"):
            raise
        return [Check("KMS key", target, "fail", "no such key", "set aws.kms_key_arn to the buckets' key (aws discover)")]
    checks = [key_state_check(metadata, target)]
    region, key_account = key_arn.split(":")[3], policies.account_of(key_arn)
    for use in (u for u in uses if u.kms_actions):
        decisions = []
        for action in use.kms_actions:
            request = use.request(action, key_arn, **{"kms:ViaService": (f"{use.kms_via}.{region}.amazonaws.com",),
                                                      "kms:CallerAccount": (use.account,)})
            identity = evaluate(identity_policies.get(use.role_arn, []), request, "identity policy")
            decisions.append((action, access(request, identity, evaluate(policy, request, "key policy"), key_account,
                                             key_policy=True)))
        checks.append(_key_policy_check(key_arn, use, decisions))
    return checks


def _key_policy_check(key_arn: str, use: RoleUse, decisions: list[tuple[str, Decision]]) -> Check:
    denied = [f"{action} (by {', '.join(d.deciding)})" for action, d in decisions if d.outcome == "denied"]
    missing = [action for action, d in decisions if d.outcome not in ("allowed", "denied")]
    if denied:
        return Check("KMS key policy", use.target, "fail", f"the key policy or the role's policy denies {'; '.join(denied)}",
                     "remove or narrow those Deny statements (aws kms put-key-policy, aws iam put-role-policy)")
    if missing:
        return Check("KMS key policy", use.target, "fail",
                     f"the key policy of {key_arn} does not let the role use {', '.join(missing)}",
                     f"add to the key policy (aws kms put-key-policy; Terraform: aws_kms_key.policy) a statement "
                     f"allowing {', '.join(missing)} to Principal {use.role_arn}, or allow the account root and "
                     f"grant the role {', '.join(missing)} on the key in IAM")
    unknown = _unknown(decisions)
    return Check("KMS key policy", use.target, "warn" if unknown else "pass",
                 "the role may use the key" + (f", but {unknown}" if unknown else ""),
                 "check the condition by hand: preflight does not know its value" if unknown else "")
