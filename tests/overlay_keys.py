"""Real values for the keys whose defaults are documentation placeholders (checks/placeholders.py), as a
user sets them: what only the user knows (mail, links: the README's day-one step) and the roles
`aws discover` finds. Hosts under .internal, which no RFC reserves for documentation."""
from __future__ import annotations

from stackgen.config import deep_merge

ACCOUNT = "111122223333"
USER_KEYS = {"alerting": {
    "email": {"to": "oncall@hospital.internal", "sender": "alertmanager@hospital.internal",
              "smarthost": "smtp.hospital.internal:587", "username": "alertmanager@hospital.internal"},
    "grafana_url": "https://grafana.hospital.internal",
    "runbook_url": "https://git.hospital.internal/observability/runbooks.md"}}
ROLES = {section: {key: f"arn:aws:iam::{ACCOUNT}:role/prod-{name}"} for section, key, name in (
    ("loki", "role_arn", "loki"), ("tempo", "role_arn", "tempo"), ("mimir", "role_arn", "mimir"),
    ("grafana", "role_arn", "grafana"), ("secrets", "role_arn", "external-secrets"),
    ("elasticsearch", "snapshot_role_arn", "elasticsearch"))}
CONFIGURED = deep_merge(USER_KEYS, ROLES)


def dotted(mapping: dict, prefix: str = "") -> set[str]:
    """The leaf keys of a nested mapping as overlay keys: alerting.email.to."""
    keys: set[str] = set()
    for key, value in mapping.items():
        path = f"{prefix}{key}"
        keys |= dotted(value, f"{path}.") if isinstance(value, dict) else {path}
    return keys
