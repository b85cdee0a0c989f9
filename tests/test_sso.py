"""Grafana single sign-on (generic OAuth): what the pod gets, how groups map to roles, and bad input."""
from __future__ import annotations

import jmespath
import pytest
from conftest import ROOT, run_main
from stackgen.checks.secrets import check_secret_producers
from stackgen.config import ConfigError, load_overlay
from stackgen.flows import Address, flow_allowed
from stackgen.manifests import Manifests
from stackgen.validate import load_tree, schema_problems

SSO = """base: clinic
alerting: {grafana_url: "https://grafana.clinic.example.org"}
grafana:
  sso:
    enabled: true
    name: Clinic SSO
    client_id: grafana
    auth_url: https://id.clinic.example.org/realms/clinic/protocol/openid-connect/auth
    token_url: https://id.clinic.example.org:8443/realms/clinic/protocol/openid-connect/token
    api_url: https://id.clinic.example.org:8443/realms/clinic/protocol/openid-connect/userinfo
    admin_groups: [platform-admins]
    editor_groups: [clinicians-leads, on-call]
    viewer_groups: [clinicians]
"""


@pytest.fixture(scope="module")
def objects(tmp_path_factory):
    root = tmp_path_factory.mktemp("sso")
    overlays = root / "overlays"
    overlays.mkdir()
    (overlays / "clinic.yaml").write_text((ROOT / "overlays" / "clinic.yaml").read_text())
    (overlays / "sso.yaml").write_text(SSO)
    result = run_main("--overlays", str(overlays), "--dist", str(root / "dist"), "--overlay", "sso")
    assert result.returncode == 0, result.stderr
    return load_tree(root / "dist" / "sso")


def grafana_pod(objects):
    return next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "grafana")["spec"]["template"]["spec"]


def env_of(objects):
    return {e["name"]: e.get("value") for e in grafana_pod(objects)["containers"][0]["env"]}


def test_generic_oauth_settings_and_local_login_off(objects):
    env = env_of(objects)
    assert env["GF_AUTH_GENERIC_OAUTH_ENABLED"] == "true" and env["GF_AUTH_GENERIC_OAUTH_NAME"] == "Clinic SSO"
    assert env["GF_AUTH_GENERIC_OAUTH_CLIENT_ID"] == "grafana"
    assert env["GF_AUTH_GENERIC_OAUTH_TOKEN_URL"].endswith("/protocol/openid-connect/token")
    assert env["GF_AUTH_GENERIC_OAUTH_SCOPES"] == "openid profile email groups"
    assert env["GF_AUTH_DISABLE_LOGIN_FORM"] == "true" and env["GF_AUTH_BASIC_ENABLED"] == "false"
    assert env["GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_STRICT"] == "true"
    # The redirect URI Grafana sends is built from root_url: the address users reach it at.
    assert env["GF_SERVER_ROOT_URL"] == "https://grafana.clinic.example.org"
    assert "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET" not in env


def test_client_secret_is_read_from_a_mounted_secret_file_produced_by_one_external_secret(objects):
    pod = grafana_pod(objects)
    path = env_of(objects)["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET__FILE"]
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if path.startswith(m["mountPath"] + "/"))
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "grafana-oauth" and path.rsplit("/", 1)[1] == "client-secret"
    external = [o for o in objects if o["kind"] == "ExternalSecret" and o["spec"]["target"]["name"] == "grafana-oauth"]
    assert len(external) == 1 and [d["secretKey"] for d in external[0]["spec"]["data"]] == ["client-secret"]
    assert schema_problems(external[0], ()) == []
    assert check_secret_producers(Manifests(objects)) == []


@pytest.mark.parametrize("groups,role", [
    (["platform-admins", "clinicians"], "Admin"),
    (["on-call"], "Editor"),
    (["clinicians"], "Viewer"),
    (["billing"], None),  # in no mapped group: refused (role_attribute_strict)
    ([], None),
])
def test_groups_claim_maps_to_roles(objects, groups, role):
    expression = env_of(objects)["GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_PATH"]
    assert env_of(objects)["GF_AUTH_GENERIC_OAUTH_GROUPS_ATTRIBUTE_PATH"] == "groups"
    assert (jmespath.search(expression, {"groups": groups}) or None) == role


def test_egress_reaches_the_providers_host_and_port_only(objects):
    """By name (network.egress: domain-names, the ApplicationNetworkPolicy beside Grafana's NetworkPolicy)."""
    m = Manifests(objects)
    grafana = next(p for p in m.pods() if p.labels.get("app.kubernetes.io/name") == "grafana")
    assert flow_allowed(m, grafana, Address("203.0.113.7", "id.clinic.example.org"), 8443)
    assert not flow_allowed(m, grafana, Address("203.0.113.7", "id.other.example.org"), 8443)
    assert not flow_allowed(m, grafana, Address("203.0.113.7"), 8443)


def test_sso_off_by_default_renders_none_of_it():
    objects = load_tree(ROOT / "dist" / "clinic")
    assert not [name for name in env_of(objects) if "OAUTH" in name or name == "GF_AUTH_DISABLE_LOGIN_FORM"]


@pytest.mark.parametrize("patch,expected", [
    ("grafana: {sso: {enabled: true, auth_url: 'https://a.example', token_url: 'https://a.example/t', api_url: 'https://a.example/u', admin_groups: [a]}}",
     "grafana.sso.client_id=None must be set while enabled is true"),
    ("grafana: {sso: {enabled: true, client_id: g, auth_url: 'https://a.example', token_url: 'https://a.example/t', api_url: 'https://a.example/u'}}",
     "grafana.sso.admin_groups=[] must name at least one group while enabled is true"),
    ("grafana: {sso: {token_url: 'http://a.example/t'}}", "grafana.sso.token_url='http://a.example/t' must match"),
    ("grafana: {sso: {admin_groups: [\"it's\"]}}", "grafana.sso.admin_groups.0=\"it's\" must match"),
    ("grafana: {sso: {groups_claim: 'realm_access.roles'}}", "grafana.sso.groups_claim='realm_access.roles' must match"),
    ("grafana: {sso: {client_secret: {name: Grafana_OAuth, key: s}}}", "grafana.sso.client_secret.name='Grafana_OAuth' must be a DNS label"),
    ("grafana: {sso: {enable: true}}", "grafana.sso.enable: unknown key; allowed here: admin_groups, api_url"),
])
def test_bad_sso_input_names_the_key(tmp_path, patch, expected):
    (tmp_path / "clinic.yaml").write_text(patch + "\n")
    with pytest.raises(ConfigError) as error:
        load_overlay(tmp_path / "clinic.yaml", source="overlays/clinic.yaml")
    assert f"overlays/clinic.yaml: {expected}" in str(error.value)
