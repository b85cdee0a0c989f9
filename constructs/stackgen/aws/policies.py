"""One evaluator for every policy document preflight reads: identity policies, bucket policies, role trust
policies and key policies (moto implements no policy simulation, and `iam simulate-principal-policy`
needs permissions a preflight caller may lack).

AWS's order (IAM User Guide, "Policy evaluation logic" and "How AWS enforcement code logic evaluates
requests to allow or deny access"): an explicit Deny in any policy wins; otherwise an Allow is needed;
otherwise the request is implicitly denied. Within one account an Allow in the identity policy or in the
resource policy suffices ("Policy evaluation for requests within a single account"); across accounts
both must allow ("Cross-account policy evaluation logic"). KMS is the exception: a key policy must allow,
itself or by naming the account, whose IAM policies then decide (KMS developer guide, "Key policies").

Conditions are evaluated where preflight knows the request's values (aws:SecureTransport,
aws:PrincipalArn, aws:PrincipalAccount, the OIDC provider's sub and aud, kms:ViaService). A condition on a
key whose value preflight does not know, or with an operator it does not implement, is "unknown": never
taken as met, reported with the statement. Permission boundaries, SCPs, RCPs and session policies are
not read (README: what preflight does not see).
"""
from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping

Values = tuple[str, ...] | None  # a context key's values; None: the key is absent from the request


def statements(document: Any) -> list[dict]:
    """A policy as its list of statements; IAM returns documents decoded, S3 and KMS as JSON text."""
    if isinstance(document, str):
        document = json.loads(document)
    found = (document or {}).get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def account_of(arn: str) -> str:
    return arn.split(":")[4]


def another_account(account: str) -> str:
    """An account that is not `account`, for "any principal of another account" (fixed: rows read the same every run)."""
    return "999999999999" if account != "999999999999" else "888888888888"


def label(policy: str, index: int, statement: dict) -> str:
    return f"{policy} statement {statement.get('Sid') or index + 1}"


# --- Principals -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Principal:
    """Who makes the request: an AWS principal (role, user or account root ARN), a federated identity
    provider (web identity), an AWS service, or nobody authenticated."""
    kind: Literal["AWS", "Federated", "Service", "anonymous"]
    id: str = ""

    @property
    def account(self) -> str | None:
        return account_of(self.id) if self.kind == "AWS" else None

    def context(self) -> dict[str, Values]:
        """The global keys every request of this principal carries (AWS global condition context keys)."""
        arn = (self.id,) if self.kind == "AWS" else None
        return {"aws:PrincipalArn": arn, "aws:PrincipalAccount": (self.account,) if arn else None}


ANONYMOUS = Principal("anonymous")


def _names(element: Any, principal: Principal) -> Literal["principal", "account"] | None:
    """How a Principal element names the requester: itself ("*" included), only its account, or not at
    all. `"*"` and `{"AWS": "*"}` both mean everyone, anonymous users included (IAM User Guide, "AWS JSON
    policy elements: Principal"); an account ID or its root ARN names every principal of that account."""
    if element == "*":
        return "principal"
    found = None
    for kind, values in (element or {}).items():
        for value in map(str, as_list(values)):
            if kind == "AWS" and value == "*":
                return "principal"
            if kind != principal.kind:
                continue
            if value == principal.id:
                return "principal"
            if kind == "AWS" and value in (principal.account, f"arn:aws:iam::{principal.account}:root"):
                found = "account"
    return found


def principal_match(statement: dict, principal: Principal) -> Literal["principal", "account"] | None:
    if "Principal" in statement:
        return _names(statement["Principal"], principal)
    if "NotPrincipal" in statement:
        return None if _names(statement["NotPrincipal"], principal) else "principal"
    return "principal"  # an identity policy: the identity it is attached to


# --- Actions and resources --------------------------------------------------------------------------------

def _glob(pattern: str, value: str, *, fold: bool = False) -> bool:
    if fold:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _covers(statement: dict, field_name: str, value: str, *, fold: bool = False) -> bool:
    if field_name in statement:
        return any(_glob(str(p), value, fold=fold) for p in as_list(statement[field_name]))
    negated = f"Not{field_name}"
    if negated in statement:
        return not any(_glob(str(p), value, fold=fold) for p in as_list(statement[negated]))
    return field_name == "Resource" and "Principal" in statement  # a trust policy names no resource


def covers_action(statement: dict, action: str) -> bool:
    """Action names compare case-insensitively, with IAM's wildcards (`s3:*`, `kms:GenerateDataKey*`)."""
    return _covers(statement, "Action", action, fold=True)


def covers_resource(statement: dict, resource: str) -> bool:
    return _covers(statement, "Resource", resource)


# --- Conditions (IAM User Guide, "IAM JSON policy elements: Condition operators") --------------------------

def _arn_like(pattern: str, value: str) -> bool:
    """ArnEquals and ArnLike match each of the ARN's six colon-delimited parts, wildcards allowed."""
    parts, values = pattern.split(":", 5), value.split(":", 5)
    return len(parts) == len(values) and all(_glob(p, v) for p, v in zip(parts, values))


# operator -> (does one policy value match one request value, negated)
OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (lambda p, v: p == v, False),
    "StringNotEquals": (lambda p, v: p == v, True),
    "StringEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), True),
    "StringLike": (_glob, False),
    "StringNotLike": (_glob, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
    "Bool": (lambda p, v: p.lower() == v.lower(), False),
}


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _key_holds(operator: str, wanted: list[str], found: Values) -> bool:
    """One condition key against the request's values. Several policy values: OR, NOR for a negated
    operator ("Conditions with multiple context keys or values"). A key absent from the request fails a
    positive operator and passes a negated one; ...IfExists passes when it is absent; ForAllValues passes
    on an absent key, ForAnyValue fails ("Set operators for multivalued context keys")."""
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists") and base != "IfExists"
    base = base.removesuffix("IfExists") if if_exists else base
    if base == "Null":
        return (found is None) == (wanted[0].lower() == "true")
    matches, negated = OPERATORS[base]
    if found is None:
        return if_exists or qualifier == "ForAllValues" or (negated and qualifier != "ForAnyValue")
    hits = [any(matches(p, v) for p in wanted) != negated for v in found]
    return all(hits) if qualifier == "ForAllValues" else any(hits)


def _known_operator(operator: str) -> bool:
    qualifier, _, base = operator.rpartition(":")
    base = base.removesuffix("IfExists") if base != "IfExists" else base
    return qualifier in ("", "ForAllValues", "ForAnyValue") and (base in OPERATORS or base == "Null")


def condition(statement: dict, context: Mapping[str, Values]) -> tuple[bool | None, list[str]]:
    """Whether the statement's Condition holds: True, False, or None with the parts preflight cannot
    evaluate. Operators and keys are ANDed; keys compare case-insensitively; a policy variable (${...})
    is not substituted, so its condition is unknown."""
    known = {k.lower(): v for k, v in context.items()}
    unknown, holds = [], True
    for operator, block in (statement.get("Condition") or {}).items():
        for key, values in (block or {}).items():
            wanted = [_text(v) for v in as_list(values)]
            if not _known_operator(operator) or key.lower() not in known or any("${" in v for v in wanted):
                unknown.append(f"{operator} {key}")
            elif not _key_holds(operator, wanted, known[key.lower()]):
                holds = False
    if not holds:
        return False, []
    return (None, unknown) if unknown else (True, [])


# --- Evaluation -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    principal: Principal = ANONYMOUS
    context: Mapping[str, Values] = field(default_factory=dict)  # keys not listed: values preflight does not know

    def full_context(self) -> dict[str, Values]:
        return {**self.principal.context(), **self.context}


Outcome = Literal["denied", "allowed", "account", "implicit"]


@dataclass(frozen=True)
class Decision:
    """One policy's or several policies' answer. `account`: allowed only to the principal's account,
    whose IAM policies decide. `deciding`: the statements behind a Deny or Allow; `maybe_deny` and
    `maybe_allow`: statements whose unknown condition could change the answer."""
    outcome: Outcome
    deciding: tuple[str, ...] = ()
    maybe_deny: tuple[str, ...] = ()
    maybe_allow: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.outcome == "allowed"

    @property
    def unknown(self) -> tuple[str, ...]:
        """What could change the answer: unknown Denies of an allowed request, unknown Allows of one that is not."""
        if self.outcome == "denied":
            return ()
        return self.maybe_deny if self.outcome == "allowed" else self.maybe_allow


def evaluate(policy: list[dict], request: Request, name: str = "policy") -> Decision:
    """One policy document: explicit Deny, then Allow, else implicit deny."""
    context = request.full_context()
    deny, allow, account, maybe_deny, maybe_allow = [], [], [], [], []
    for index, statement in enumerate(policy):
        named = principal_match(statement, request.principal)
        if not named or not covers_action(statement, request.action) or not covers_resource(statement, request.resource):
            continue
        holds, unknown = condition(statement, context)
        where = label(name, index, statement)
        if holds is None:
            (maybe_deny if statement.get("Effect") == "Deny" else maybe_allow).append(f"{where} ({', '.join(unknown)})")
        elif holds and statement.get("Effect") == "Deny":
            deny.append(where)
        elif holds and statement.get("Effect") == "Allow":
            (allow if named == "principal" else account).append(where)
    if deny:
        return Decision("denied", tuple(deny))
    outcome: Outcome = "allowed" if allow else "account" if account else "implicit"
    return Decision(outcome, tuple(allow or account), tuple(maybe_deny), tuple(maybe_allow))


def access(request: Request, identity: Decision, resource: Decision | None, resource_account: str, *,
           key_policy: bool = False) -> Decision:
    """Identity and resource policy together, as AWS combines them (see the module's docstring)."""
    resource = resource or Decision("implicit")
    both = (identity, resource)
    maybe_deny = tuple(u for d in both for u in d.maybe_deny)
    maybe_allow = tuple(u for d in both for u in d.maybe_allow)
    denied = [s for d in both if d.outcome == "denied" for s in d.deciding]
    if denied:
        return Decision("denied", tuple(denied))
    same_account = request.principal.account == resource_account
    if key_policy:
        allowed = resource.allowed or (resource.outcome == "account" and identity.allowed)
    elif same_account:
        allowed = identity.allowed or resource.allowed
    else:
        allowed = identity.allowed and resource.outcome in ("allowed", "account")
    deciding = tuple(s for d in both if d.outcome in ("allowed", "account") for s in d.deciding)
    return Decision("allowed" if allowed else "implicit", deciding, maybe_deny, maybe_allow)


def unknown_conditions(decisions: list[tuple[str, Decision]]) -> list[str]:
    """`what: unknown condition in <statements>` for each decision an unknown condition could change."""
    return [f"{what}: unknown condition in {', '.join(d.unknown)}" for what, d in decisions if d.unknown]
