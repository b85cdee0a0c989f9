"""Reading IAM, KMS and S3 policy documents: what a statement allows, denies, and on which conditions.

A deliberately small evaluator (moto implements no IAM policy simulation, and `iam
simulate-principal-policy` needs permissions a preflight caller may lack): explicit Deny without a
condition beats Allow; Allow statements count whatever their conditions; permission boundaries, SCPs
and session policies are not read (README: what preflight does not see).
"""
from __future__ import annotations

import fnmatch
import json
from typing import Any


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


def _glob(pattern: str, value: str, *, fold: bool = False) -> bool:
    if fold:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _covers(statement: dict, field: str, value: str, *, fold: bool = False) -> bool:
    if field in statement:
        return any(_glob(p, value, fold=fold) for p in as_list(statement[field]))
    negated = f"Not{field}"
    if negated in statement:
        return not any(_glob(p, value, fold=fold) for p in as_list(statement[negated]))
    return False


def covers_action(statement: dict, action: str) -> bool:
    """Action names compare case-insensitively, with IAM's wildcards (`s3:*`, `kms:GenerateDataKey*`)."""
    return _covers(statement, "Action", action, fold=True)


def applies(statement: dict, action: str, resource: str) -> bool:
    return covers_action(statement, action) and _covers(statement, "Resource", resource)


def allowed(policy_statements: list[dict], action: str, resource: str) -> bool:
    """Whether the statements allow `action` on `resource` (identity policies: no Principal)."""
    if any(s.get("Effect") == "Deny" and "Condition" not in s and applies(s, action, resource)
           for s in policy_statements):
        return False
    return any(s.get("Effect") == "Allow" and applies(s, action, resource) for s in policy_statements)


def principals(statement: dict, kind: str = "AWS") -> list[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    return [str(p) for p in as_list((principal or {}).get(kind))]


def account_of(arn: str) -> str:
    return arn.split(":")[4]


def names_principal(statement: dict, role_arn: str) -> str | None:
    """How a resource policy statement names the role: 'role', 'account' (delegated to IAM), '*' or None."""
    for principal in principals(statement):
        if principal == "*":
            return "*"
        if principal == role_arn:
            return "role"
        if principal in (account_of(role_arn), f"arn:aws:iam::{account_of(role_arn)}:root"):
            return "account"
    return None


def condition_values(statement: dict, operator: str, key: str) -> list[str] | None:
    """Values a condition operator sets for a key (condition keys compare case-insensitively), or None."""
    block = (statement.get("Condition") or {}).get(operator) or {}
    for name, values in block.items():
        if name.lower() == key.lower():
            return [str(v) for v in as_list(values)]
    return None


def denies_insecure_transport(policy_statements: list[dict], bucket: str) -> bool:
    """A Deny for everyone on every S3 action, on the bucket and its objects, when aws:SecureTransport is false."""
    resources = {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/object"}
    for statement in policy_statements:
        if statement.get("Effect") != "Deny" or principals(statement) != ["*"]:
            continue
        insecure = condition_values(statement, "Bool", "aws:SecureTransport")
        if insecure is None or [v.lower() for v in insecure] != ["false"]:
            continue
        if all(covers_action(statement, "s3:GetObject") and covers_action(statement, "s3:PutObject")
               and _covers(statement, "Resource", r) for r in resources):
            return True
    return False
