"""The one policy evaluator (aws/policies.py) over the examples of AWS's IAM User Guide: the order of
evaluation, identity with resource policies in one account and across accounts, KMS key policies, the
Principal forms, and the condition operators it implements; unknown conditions are never taken as met."""
from __future__ import annotations

import pytest
from stackgen.aws.policies import ANONYMOUS, Principal, Request, access, condition, evaluate

ACCOUNT, OTHER = "111122223333", "444455556666"
CARLOS = Principal("AWS", f"arn:aws:iam::{ACCOUNT}:user/carlossalazar")
ROLE = Principal("AWS", f"arn:aws:iam::{ACCOUNT}:role/loki")

# "Policy evaluation for requests within a single account", Example identity-based and resource-based
# policy evaluation: the identity policy of the user carlossalazar, as the guide prints it.
CARLOS_POLICY = [
    {"Sid": "AllowS3ListRead", "Effect": "Allow", "Resource": "arn:aws:s3:::*",
     "Action": ["s3:GetBucketLocation", "s3:GetAccountPublicAccessBlock", "s3:ListAccessPoints", "s3:ListAllMyBuckets"]},
    {"Sid": "AllowS3Self", "Effect": "Allow", "Action": "s3:*",
     "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar/*", "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar"]},
    {"Sid": "DenyS3Logs", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::*log*"},
]
# The guide's bucket policy on the -logs bucket lets only carlossalazar in.
LOGS_BUCKET_POLICY = [{"Sid": "AllowCarlos", "Effect": "Allow", "Principal": {"AWS": CARLOS.id}, "Action": "s3:*",
                       "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar-logs",
                                    "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar-logs/*"]}]


def decide(request, identity, resource=None, *, resource_account=ACCOUNT, key_policy=False):
    return access(request, evaluate(identity, request, "identity policy"),
                  evaluate(resource, request, "resource policy") if resource is not None else None,
                  resource_account, key_policy=key_policy)


def test_an_explicit_deny_in_the_identity_policy_beats_the_bucket_policys_allow():
    """The guide's conclusion: DenyS3Logs overrides the bucket policy's Allow for the -logs bucket."""
    request = Request("s3:PutObject", "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar-logs/file.txt", CARLOS)
    decision = decide(request, CARLOS_POLICY, LOGS_BUCKET_POLICY)
    assert decision.outcome == "denied" and decision.deciding == ("identity policy statement DenyS3Logs",)


def test_within_one_account_either_policy_allowing_suffices():
    own = Request("s3:PutObject", "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar/file.txt", CARLOS)
    assert decide(own, CARLOS_POLICY).allowed  # the identity policy alone
    elsewhere = Request("s3:GetObject", "arn:aws:s3:::shared-bucket/file.txt", CARLOS)
    grant = [{"Effect": "Allow", "Principal": {"AWS": CARLOS.id}, "Action": "s3:GetObject",
              "Resource": "arn:aws:s3:::shared-bucket/*"}]
    assert decide(elsewhere, [], grant).allowed  # the bucket policy alone
    assert decide(elsewhere, []).outcome == "implicit"  # neither: implicitly denied


def test_across_accounts_both_policies_must_allow():
    """"Cross-account policy evaluation logic": the resource policy names the account, the identity allows."""
    outsider = Principal("AWS", f"arn:aws:iam::{OTHER}:role/auditor")
    request = Request("s3:GetObject", "arn:aws:s3:::logs/chunk", outsider)
    to_account = [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "s3:GetObject",
                   "Resource": "*"}]
    identity = [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::logs/*"}]
    assert decide(request, identity, to_account).allowed
    assert not decide(request, [], to_account).allowed
    assert not decide(request, identity, []).allowed


def test_a_key_policy_must_allow_itself_or_delegate_to_the_accounts_iam_policies():
    """KMS: the default key policy's root statement lets IAM policies grant; without it they do not."""
    request = Request("kms:Decrypt", f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k", ROLE)
    root = [{"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
             "Action": "kms:*", "Resource": "*"}]
    identity = [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": request.resource}]
    assert decide(request, identity, root, key_policy=True).allowed
    assert not decide(request, [], root, key_policy=True).allowed
    assert not decide(request, identity, [], key_policy=True).allowed  # unlike S3, IAM alone is not enough
    direct = [{"Effect": "Allow", "Principal": {"AWS": ROLE.id}, "Action": "kms:Decrypt", "Resource": "*"}]
    assert decide(request, [], direct, key_policy=True).allowed
    deny = root + [{"Sid": "NoLoki", "Effect": "Deny", "Principal": {"AWS": ROLE.id}, "Action": "kms:*", "Resource": "*"}]
    assert decide(request, identity, deny, key_policy=True).outcome == "denied"


@pytest.mark.parametrize("element,principal,expected", [
    ("*", ANONYMOUS, "allowed"),
    ({"AWS": "*"}, ANONYMOUS, "allowed"),  # both forms mean everyone, anonymous users included
    ({"AWS": "*"}, Principal("AWS", f"arn:aws:iam::{OTHER}:role/x"), "allowed"),
    ({"AWS": ROLE.id}, ROLE, "allowed"),
    ({"AWS": ROLE.id}, Principal("AWS", f"arn:aws:iam::{ACCOUNT}:role/tempo"), "implicit"),
    ({"AWS": ACCOUNT}, ROLE, "account"),  # the account: its IAM policies decide
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, ROLE, "account"),
    ({"AWS": f"arn:aws:iam::{OTHER}:root"}, ROLE, "implicit"),
    ({"Federated": "arn:aws:iam::1:oidc-provider/x"}, Principal("Federated", "arn:aws:iam::1:oidc-provider/x"), "allowed"),
    ({"Federated": "arn:aws:iam::1:oidc-provider/x"}, Principal("Federated", "arn:aws:iam::1:oidc-provider/y"), "implicit"),
    ({"Service": "logging.s3.amazonaws.com"}, Principal("Service", "logging.s3.amazonaws.com"), "allowed"),
    ({"Service": "logging.s3.amazonaws.com"}, ROLE, "implicit"),
])
def test_principal_forms(element, principal, expected):
    statement = {"Effect": "Allow", "Principal": element, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
    assert evaluate([statement], Request("s3:GetObject", "arn:aws:s3:::b/o", principal)).outcome == expected


def test_not_principal_and_not_action_and_not_resource():
    statement = {"Effect": "Deny", "NotPrincipal": {"AWS": ROLE.id}, "NotAction": "s3:List*",
                 "NotResource": "arn:aws:s3:::public/*"}
    other = Principal("AWS", f"arn:aws:iam::{ACCOUNT}:role/tempo")
    assert evaluate([statement], Request("s3:GetObject", "arn:aws:s3:::b/o", other)).outcome == "denied"
    assert evaluate([statement], Request("s3:GetObject", "arn:aws:s3:::b/o", ROLE)).outcome == "implicit"
    assert evaluate([statement], Request("s3:ListBucket", "arn:aws:s3:::b", other)).outcome == "implicit"
    assert evaluate([statement], Request("s3:GetObject", "arn:aws:s3:::public/o", other)).outcome == "implicit"


def holds(operator, key, values, context):
    return condition({"Condition": {operator: {key: values}}}, context)[0]


@pytest.mark.parametrize("operator,values,found,expected", [
    ("StringEquals", "loki", ("loki",), True),
    ("StringEquals", "Loki", ("loki",), False),  # case-sensitive
    ("StringEqualsIgnoreCase", "Loki", ("loki",), True),
    ("StringLike", "system:serviceaccount:monitoring:*", ("system:serviceaccount:monitoring:loki",), True),
    ("StringLike", "loki-?", ("loki-10",), False),  # ? is one character
    ("StringNotEquals", ["audit", "security"], ("audit",), False),  # negated, several values: NOR
    ("StringNotEquals", ["audit", "security"], ("dev",), True),
    ("StringNotLike", "loki*", None, True),  # a negated operator holds when the key is absent
    ("StringEquals", "loki", None, False),  # a positive one does not
    ("StringEqualsIfExists", "loki", None, True),  # ...IfExists: absent passes
    ("StringEqualsIfExists", "loki", ("tempo",), False),
    ("Bool", "false", ("false",), True),
    ("Bool", False, ("true",), False),  # JSON false is the string "false"
    ("ArnLike", "arn:aws:iam::*:role/loki", (ROLE.id,), True),
    ("ArnEquals", "arn:aws:iam::*:role/loki", (f"arn:aws:iam::{ACCOUNT}:role/loki/x",), False),
    ("ArnNotLike", "arn:aws:iam::*:role/tempo", (ROLE.id,), True),
    ("Null", "true", None, True),  # Null true: the key is absent
    ("Null", "false", None, False),
    ("ForAllValues:StringEquals", ["a", "b"], ("a", "b"), True),
    ("ForAllValues:StringEquals", ["a", "b"], ("a", "c"), False),
    ("ForAllValues:StringEquals", ["a"], None, True),  # ForAllValues holds on an absent key
    ("ForAnyValue:StringEquals", ["a"], ("c", "a"), True),
    ("ForAnyValue:StringEquals", ["a"], None, False),
])
def test_condition_operators(operator, values, found, expected):
    assert holds(operator, "k", values, {"k": found}) is expected


@pytest.mark.parametrize("operator,key,values,context", [
    ("IpAddress", "aws:SourceIp", "10.0.0.0/8", {"aws:SourceIp": ("10.1.2.3",)}),  # an operator preflight does not implement
    ("StringEquals", "aws:SourceVpce", "vpce-1", {}),  # a key whose value preflight does not know
    ("StringEquals", "aws:PrincipalTag/team", "${aws:username}", {"aws:PrincipalTag/team": ("x",)}),  # a policy variable
])
def test_unknown_conditions_are_reported_never_assumed(operator, key, values, context):
    assert condition({"Condition": {operator: {key: values}}}, context) == (None, [f"{operator} {key}"])
    request = Request("s3:GetObject", "arn:aws:s3:::b/o", ROLE, context)
    allow = [{"Sid": "Maybe", "Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {operator: {key: values}}}]
    decision = evaluate(allow, request, "p")
    assert decision.outcome == "implicit" and decision.unknown == (f"p statement Maybe ({operator} {key})",)
    deny = [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, dict(allow[0], Effect="Deny")]
    decision = evaluate(deny, request, "p")
    assert decision.outcome == "allowed" and decision.unknown == (f"p statement Maybe ({operator} {key})",)


def test_a_false_condition_beats_an_unknown_one_and_keys_ignore_case():
    statement = {"Effect": "Deny",
                 "Condition": {"Bool": {"AWS:SecureTransport": "false"}, "IpAddress": {"aws:SourceIp": "1.2.3.4"}}}
    assert condition(statement, {"aws:SecureTransport": ("true",)}) == (False, [])
    assert condition(statement, {"aws:SecureTransport": ("false",)})[0] is None


def test_a_tls_only_deny_applies_to_requests_without_tls_only():
    deny = [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]
    def over(tls: str) -> str:
        return evaluate(deny, Request("s3:GetObject", "arn:aws:s3:::b/o", ROLE, {"aws:SecureTransport": (tls,)})).outcome
    assert over("false") == "denied" and over("true") == "implicit"


def test_principal_arn_and_account_come_from_the_requester():
    deny_outsiders = [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
                       "Condition": {"StringNotEquals": {"aws:PrincipalAccount": ACCOUNT}}}]
    assert evaluate(deny_outsiders, Request("s3:GetObject", "x", ROLE)).outcome == "implicit"
    outsider = Principal("AWS", f"arn:aws:iam::{OTHER}:role/r")
    assert evaluate(deny_outsiders, Request("s3:GetObject", "x", outsider)).outcome == "denied"
    assert evaluate(deny_outsiders, Request("s3:GetObject", "x", ANONYMOUS)).outcome == "denied"  # absent: negated holds
