"""`aws secrets bootstrap`: create the Secrets Manager entries the ExternalSecrets read, never overwrite one.

One entry per Secret (`<prefix><Secret name>`), a JSON object with the Secret's keys. The Grafana admin
password is generated (never printed unless asked, optionally written to a 0600 file that git ignores);
receiver credentials get a placeholder and the tag monitoring.openemr.io/placeholder=true, which
preflight reports until the user puts the real value and removes the tag. Existing entries are left
exactly as they are: a second run creates nothing.
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError

from stackgen.aws.preflight import PLACEHOLDER_TAG
from stackgen.aws.report import progress
from stackgen.aws.session import Aws, AwsError, error_code
from stackgen.components.external_secrets import SecretKey, remote_name, secrets_by_name
from stackgen.config import StackConfig

PLACEHOLDER = "REPLACE_ME"


@dataclass
class Outcome:
    secret: str  # the Kubernetes Secret
    entry: str  # the Secrets Manager entry
    action: str  # created, exists
    fill_in: list[SecretKey]
    generated: dict[str, str]


def _value(key: SecretKey) -> str:
    if key.source == "generated":
        return secrets.token_urlsafe(24)
    return key.fixed if key.source == "fixed" else PLACEHOLDER


def _exists(aws: Aws, entry: str) -> bool:
    try:
        aws.call("secretsmanager", "describe_secret", SecretId=entry)
        return True
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return False
        raise


def bootstrap(aws: Aws, stack: StackConfig) -> list[Outcome]:
    if stack.secrets.provider != "aws":
        raise AwsError("secrets.provider is kubernetes: the Secrets are created with kubectl (README: Receiver Secrets)")
    outcomes = []
    for name, keys in secrets_by_name(stack).items():
        entry = remote_name(stack, name)
        progress(f"Secrets Manager entry {entry} (Secret {name})")
        if _exists(aws, entry):
            outcomes.append(Outcome(name, entry, "exists", [], {}))
            continue
        values = {key.key: _value(key) for key in keys}
        fill_in = [key for key in keys if key.source == "user"]
        tags = [{"Key": "monitoring.openemr.io/cluster", "Value": stack.cluster_name}]
        if fill_in:
            tags.append({"Key": PLACEHOLDER_TAG, "Value": "true"})
        request = {"Name": entry, "SecretString": json.dumps(values, sort_keys=True), "Tags": tags,
                   "Description": f"Secret {stack.namespace}/{name} of the observability stack (External Secrets)"}
        if stack.aws.kms_key_arn:
            request["KmsKeyId"] = stack.aws.kms_key_arn
        try:
            aws.call("secretsmanager", "create_secret", **request)
        except ClientError as error:
            if error_code(error) != "ResourceExistsException":  # created meanwhile: still never overwritten
                raise
            outcomes.append(Outcome(name, entry, "exists", [], {}))
            continue
        generated = {key.key: values[key.key] for key in keys if key.source == "generated"}
        outcomes.append(Outcome(name, entry, "created", fill_in, generated))
    return outcomes


def git_ignored(path: Path) -> bool:
    """Whether git ignores the path (a file outside any repository cannot be committed by accident)."""
    result = subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=path.parent, capture_output=True)
    if result.returncode == 128:  # not in a git work tree
        return True
    return result.returncode == 0


def write_password_file(path: Path, outcomes: list[Outcome]) -> bool:
    """Write generated values, 0600 (the caller has checked that git ignores the path). False when nothing
    was generated."""
    generated = {f"{o.secret}/{k}": v for o in outcomes for k, v in o.generated.items()}
    if not generated:
        return False
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.writelines(f"{name}={value}\n" for name, value in sorted(generated.items()))
    os.chmod(path, 0o600)
    return True
