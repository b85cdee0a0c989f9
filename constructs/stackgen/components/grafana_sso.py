"""Grafana single sign-on: OIDC login through Grafana's generic OAuth (`[auth.generic_oauth]`, Grafana 12.4).

Every setting is an environment variable `GF_<SECTION>_<KEY>` (Grafana's override of grafana.ini);
the client secret is read from a file of a mounted Secret (`GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET__FILE`,
expanded by the Grafana image's entrypoint like the admin password). Roles come from the groups claim
through `role_attribute_path` (a JMESPath expression) with `role_attribute_strict`, so a user in no
mapped group is refused rather than given a role. With SSO on the login form and basic auth are off
(`[auth] disable_login_form`, `[auth.basic] enabled`): administration goes through the admin groups.
The redirect URI Grafana sends is `<root_url>/login/generic_oauth`, so `[server] root_url` is set from
`alerting.grafana_url`, the address users reach Grafana at; register that URI with the identity provider.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlsplit

import cdk8s_plus_37.k8s as k
from pydantic import Field, model_validator

from stackgen.lib.workload import Port
from stackgen.settings import Model, SecretKeyRef

OAUTH_DIR = "/etc/grafana/oauth"
HttpsUrl = Annotated[str, Field(pattern=r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s]*)?$")]
# A group name inside a JMESPath string literal: no quote or backslash can end it early.
Group = Annotated[str, Field(pattern=r"^[^'\\\s][^'\\]*$", max_length=256)]
Claim = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class GrafanaSso(Model):
    enabled: bool = False
    name: str = Field("SSO", min_length=1, max_length=64)  # the login button's label
    client_id: str | None = Field(None, min_length=1)
    client_secret: SecretKeyRef = SecretKeyRef(name="grafana-oauth", key="client-secret")
    # The identity provider's endpoints (its discovery document's authorization, token and userinfo endpoints).
    auth_url: HttpsUrl | None = None
    token_url: HttpsUrl | None = None
    api_url: HttpsUrl | None = None
    scopes: list[Annotated[str, Field(pattern=r"^[\x21-\x7e]+$")]] = ["openid", "profile", "email", "groups"]
    # The claim (in the ID token or the userinfo response) that lists the user's groups.
    groups_claim: Claim = "groups"
    admin_groups: list[Group] = []
    editor_groups: list[Group] = []
    # Empty: every user the provider authenticates may view; otherwise only these groups (and the above).
    viewer_groups: list[Group] = []
    use_pkce: bool = True

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> "GrafanaSso":
        if not self.enabled:
            return self
        for key in ("client_id", "auth_url", "token_url", "api_url"):
            if getattr(self, key) is None:
                raise ValueError(f"{key}=None must be set while enabled is true (the identity provider's values)")
        if not self.admin_groups:
            raise ValueError("admin_groups=[] must name at least one group while enabled is true: the login form is "
                             "off with SSO, so only these groups can administer Grafana")
        return self


def role_attribute_path(sso: GrafanaSso) -> str:
    """JMESPath over the token's claims: the first mapped group wins, Admin before Editor before Viewer."""
    def member(groups: list[str], role: str) -> list[str]:
        return [f"contains({sso.groups_claim}[*], '{group}') && '{role}'" for group in groups]
    terms = member(sso.admin_groups, "Admin") + member(sso.editor_groups, "Editor") + member(sso.viewer_groups, "Viewer")
    if not sso.viewer_groups:
        terms.append("'Viewer'")
    return " || ".join(terms)


@dataclass
class SsoWiring:
    """What SSO adds to Grafana's pod: variables, the client secret's volume, egress to the provider (port ->
    the hosts Grafana calls on it)."""
    env: dict[str, str] = field(default_factory=dict)
    volumes: list[k.Volume] = field(default_factory=list)
    mounts: list[k.VolumeMount] = field(default_factory=list)
    egress: dict[Port, list[str]] = field(default_factory=dict)


def wiring(sso: GrafanaSso, root_url: str) -> SsoWiring:
    if not sso.enabled:
        return SsoWiring()
    env = {
        "GF_SERVER_ROOT_URL": root_url,
        "GF_AUTH_DISABLE_LOGIN_FORM": "true",
        "GF_AUTH_BASIC_ENABLED": "false",
        "GF_AUTH_GENERIC_OAUTH_ENABLED": "true",
        "GF_AUTH_GENERIC_OAUTH_NAME": sso.name,
        "GF_AUTH_GENERIC_OAUTH_CLIENT_ID": sso.client_id,
        "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET__FILE": f"{OAUTH_DIR}/{sso.client_secret.key}",
        "GF_AUTH_GENERIC_OAUTH_SCOPES": " ".join(sso.scopes),
        "GF_AUTH_GENERIC_OAUTH_AUTH_URL": sso.auth_url,
        "GF_AUTH_GENERIC_OAUTH_TOKEN_URL": sso.token_url,
        "GF_AUTH_GENERIC_OAUTH_API_URL": sso.api_url,
        "GF_AUTH_GENERIC_OAUTH_USE_PKCE": str(sso.use_pkce).lower(),
        "GF_AUTH_GENERIC_OAUTH_ALLOW_SIGN_UP": "true",  # users are created at their first login
        "GF_AUTH_GENERIC_OAUTH_GROUPS_ATTRIBUTE_PATH": sso.groups_claim,
        "GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_PATH": role_attribute_path(sso),
        "GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_STRICT": "true",
    }
    # Grafana calls the token and userinfo endpoints itself (the browser only visits auth_url).
    egress: dict[Port, list[str]] = {}
    for url in (sso.token_url, sso.api_url):
        address = urlsplit(url)
        port = address.port or 443
        egress.setdefault(Port("https" if port == 443 else f"oidc-{port}", port), []).append(address.hostname)
    return SsoWiring(
        env=env,
        volumes=[k.Volume(name="oauth", secret=k.SecretVolumeSource(secret_name=sso.client_secret.name))],
        mounts=[k.VolumeMount(name="oauth", mount_path=OAUTH_DIR, read_only=True)],
        egress=egress)
