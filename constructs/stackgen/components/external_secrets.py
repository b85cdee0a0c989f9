"""Secrets without `kubectl create secret`: External Secrets Operator objects for every Secret a pod mounts.

With `secrets.provider: aws` (the default) each Secret the stack's pods read (Grafana admin, the
Grafana database password and single sign-on client secret when set, Alertmanager's Slack, PagerDuty
and SMTP credentials) is produced by exactly one ExternalSecret, with the same keys the pods mount,
from one AWS Secrets Manager entry per Secret: `<prefix><Secret name>`, a JSON object whose properties
are the Secret's keys (`python main.py aws secrets bootstrap` creates the missing entries). The
ClusterSecretStore authenticates through IRSA: External Secrets requests a token for the ServiceAccount
rendered here (`eks.amazonaws.com/role-arn` = `secrets.role_arn`, audience sts.amazonaws.com) and
assumes that role; the store serves the stack's namespace only. `secrets.existing_store` names a
ClusterSecretStore the cluster already has instead. With `secrets.provider: kubernetes` nothing is
rendered here and the Secrets are created by hand (README: Receiver Secrets).

The operator itself is not rendered: it is a cluster-wide controller that other applications share
(OpenEMR's own secrets), installed once per cluster with its CRDs (README: Secrets). Plain objects
rather than typed bindings: importing the External Secrets CRDs costs about 0.45 s on every synth for
a handful of objects; they are validated against the vendored CRDs (imports/crds/external-secrets-v2.9.0).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import cdk8s
from pydantic import Field

from constructs import Construct
from stackgen.lib.plain import custom_resource
from stackgen.context import Context
from stackgen.lib.backend import IRSA_ANNOTATION
from stackgen.lib.meta import Identity
from stackgen.lib.workload import service_account
from stackgen.settings import DnsLabel, GoDuration, Model, RoleArn, role

if TYPE_CHECKING:
    from stackgen.config import StackConfig

API_VERSION = "external-secrets.io/v1"
# The External Secrets release whose CRDs these objects are validated against (install that release).
VERSION = "v2.9.0"
NAME = "external-secrets"


class SecretsConfig(Model):
    provider: Literal["aws", "kubernetes"] = "aws"
    # A ClusterSecretStore the cluster already has; None renders one for AWS Secrets Manager (with IRSA).
    existing_store: DnsLabel | None = None
    # The role External Secrets assumes to read `<prefix>*` (trust: system:serviceaccount:<namespace>:external-secrets).
    role_arn: RoleArn = role("external-secrets")
    # Secrets Manager entry names start with it; None: `<cluster_name>/<namespace>/`.
    prefix: str | None = Field(None, pattern=r"^[A-Za-z0-9/_+=.@-]*/$")
    refresh_interval: GoDuration = "1h"


@dataclass(frozen=True)
class SecretKey:
    """One key of a Secret a pod mounts, and where its value comes from on day one."""
    secret: str
    key: str
    # generated: bootstrap makes a random one; fixed: bootstrap writes `fixed`; user: a placeholder to fill in.
    source: Literal["generated", "fixed", "user"]
    what: str
    fixed: str = ""


def mounted_secret_keys(stack: StackConfig) -> list[SecretKey]:
    """Every Secret key the stack's pods read from a file, in a stable order."""
    grafana, alerting = stack.grafana, stack.alerting
    admin = grafana.admin_secret
    keys = [SecretKey(admin.name, admin.user_key, "fixed", "Grafana admin user name", "admin"),
            SecretKey(admin.name, admin.password_key, "generated", "Grafana admin password")]
    if grafana.database:
        ref = grafana.database.password_secret
        keys.append(SecretKey(ref.name, ref.key, "user", f"PostgreSQL password of user {grafana.database.user}"))
    sso = grafana.sso
    if sso.enabled:
        keys.append(SecretKey(sso.client_secret.name, sso.client_secret.key, "user",
                              f"OAuth client secret of client {sso.client_id}"))
    for channel, what in ((alerting.slack, "Slack incoming webhook URL"),
                          (alerting.pagerduty, "PagerDuty Events API v2 routing key"),
                          (alerting.email, f"SMTP password of {alerting.email.username}")):
        if channel.enabled:
            keys.append(SecretKey(channel.secret.name, channel.secret.key, "user", what))
    unique = {(k.secret, k.key): k for k in keys}
    return list(unique.values())


def secrets_by_name(stack: StackConfig) -> dict[str, list[SecretKey]]:
    grouped: dict[str, list[SecretKey]] = {}
    for key in mounted_secret_keys(stack):
        grouped.setdefault(key.secret, []).append(key)
    return dict(sorted(grouped.items()))


def remote_prefix(stack: StackConfig) -> str:
    return stack.secrets.prefix if stack.secrets.prefix is not None else f"{stack.cluster_name}/{stack.namespace}/"


def remote_name(stack: StackConfig, secret: str) -> str:
    """The Secrets Manager entry holding one Secret's keys as a JSON object."""
    return f"{remote_prefix(stack)}{secret}"


def store_name(stack: StackConfig) -> str:
    # Cluster-scoped: named after the namespace so two installs cannot collide.
    return stack.secrets.existing_store or f"{stack.namespace}-aws-secrets-manager"


def renders_store(stack: StackConfig) -> bool:
    return stack.secrets.provider == "aws" and stack.secrets.existing_store is None


def _api_object(scope: Construct, kind: str, identity: Identity, name: str, spec: dict, *,
                namespaced: bool = True) -> cdk8s.ApiObject:
    return custom_resource(scope, f"{kind}-{name}", API_VERSION, kind, {
        "name": name, "namespace": identity.namespace if namespaced else None, "labels": identity.labels}, spec)


class ExternalSecrets(Construct):
    def __init__(self, scope: Construct, ctx: Context):
        super().__init__(scope, NAME)
        stack = ctx.config
        if stack.secrets.provider != "aws":
            return
        identity = Identity(name=NAME, component="secrets", version=VERSION, instance=stack.instance,
                            namespace=stack.namespace)
        if renders_store(stack):
            service_account(self, identity, annotations={IRSA_ANNOTATION: stack.secrets.role_arn})
            _api_object(self, "ClusterSecretStore", identity, store_name(stack), {
                # Only the stack's ExternalSecrets may read through this role.
                "conditions": [{"namespaces": [stack.namespace]}],
                "provider": {"aws": {
                    "service": "SecretsManager", "region": stack.aws.region,
                    "auth": {"jwt": {"serviceAccountRef": {"name": NAME, "namespace": stack.namespace}}}}},
            }, namespaced=False)
        for secret, keys in secrets_by_name(stack).items():
            _api_object(self, "ExternalSecret", identity, secret, {
                "refreshInterval": stack.secrets.refresh_interval,
                "secretStoreRef": {"kind": "ClusterSecretStore", "name": store_name(stack)},
                "target": {"name": secret, "creationPolicy": "Owner"},
                "data": [{"secretKey": k.key, "remoteRef": {"key": remote_name(stack, secret), "property": k.key}}
                         for k in keys],
            })
