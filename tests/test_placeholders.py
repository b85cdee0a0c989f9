"""Documentation placeholders (checks/placeholders.py): which strings are reserved, the key each is found
under in the resolved configuration, and when a row fails (the rendered tree uses the value)."""
from __future__ import annotations

import pytest
import yaml
from conftest import ROOT
from overlay_keys import CONFIGURED
from stackgen.checks.placeholders import placeholder_checks, placeholders, reserved
from stackgen.config import load_overlay

RESERVED = [
    "oncall@example.org", "smtp.example.org:587", "https://grafana.example.org", "EXAMPLE.COM", "www.example.net",
    "https://git.example.org/observability/docs/runbooks.md",
    "mail.hospital.example", "https://id.clinic.example:8443/realms/x", "db.test:5432", "grafana.hospital.invalid.",
    "192.0.2.15", "198.51.100.0/24", "https://203.0.113.9:8443/", "arn:aws:iam::123456789012:role/loki",
    "123456789012",
]
NOT_RESERVED = [
    "example.org.uk", "myexample.org", "example.organic", "grafana.hospital.internal", "mail.testing.org",
    "https://grafana.hospital.org/d/x/example.test",  # a path, not a host
    "john.test@hospital.org",  # a mailbox, not a host
    "10.0.0.0/8", "192.0.3.1", "198.51.101.0/24", "arn:aws:iam::111122223333:role/loki", "1123456789012",
    "#alerts-critical", "openemr-monitoring-loki", "30d", "loki.monitoring.svc.cluster.local:3100",
]


@pytest.mark.parametrize("text", RESERVED)
def test_reserved_names_accounts_and_addresses(text):
    assert reserved(text), text


@pytest.mark.parametrize("text", NOT_RESERVED)
def test_near_misses_are_not_reserved(text):
    assert reserved(text) is None, text


def test_the_defaults_placeholders_by_key():
    found = {p.key: p for p in placeholders(load_overlay(ROOT / "overlays" / "clinic.yaml").config)}
    for key in ("alerting.email.to", "alerting.email.smarthost", "alerting.grafana_url", "alerting.runbook_url",
                "loki.role_arn", "secrets.role_arn", "elasticsearch.snapshot_role_arn"):
        assert key in found, sorted(found)
    assert found["alerting.email.smarthost"].value == "smtp.example.org:587"
    assert "RFC 2606" in found["alerting.email.smarthost"].why
    assert "documentation account" in found["loki.role_arn"].why
    assert "prometheus.retention" not in found and "cluster_name" not in found


def test_keys_inside_lists_mappings_and_optional_models(tmp_path):
    """SSO endpoints (optional until SSO is on), a list item, a mapping's value: each under its own key."""
    overlay = tmp_path / "sso.yaml"
    overlay.write_text("""base: clinic
network: {kube_api_cidrs: [10.20.0.0/16, 203.0.113.0/24]}
alerting:
  grafana_url: https://grafana.hospital.internal
nodes: {node_class: {subnet_tags: {owner: platform@hospital.test, tier: private}}}
grafana:
  sso:
    enabled: true
    client_id: grafana
    auth_url: https://id.hospital.example/auth
    token_url: https://id.hospital.internal/token
    api_url: https://id.hospital.internal/userinfo
    admin_groups: [admins]
""")
    (tmp_path / "clinic.yaml").write_text((ROOT / "overlays" / "clinic.yaml").read_text())
    found = {p.key for p in placeholders(load_overlay(overlay).config)}
    assert {"network.kube_api_cidrs[1]", "nodes.node_class.subnet_tags.owner", "grafana.sso.auth_url"} <= found
    assert not {"network.kube_api_cidrs[0]", "alerting.grafana_url", "grafana.sso.token_url", "nodes.node_class.subnet_tags.tier"} & found


def test_a_row_fails_only_where_the_rendered_tree_uses_the_value():
    config = load_overlay(ROOT / "overlays" / "clinic.yaml").config
    rendered = [{"kind": "Secret", "stringData": {"alertmanager.yaml": "smarthost: smtp.example.org:587\n"}},
                {"kind": "ServiceAccount", "metadata": {"annotations": {
                    "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/openemr-monitoring-loki"}}}]
    rows = {c.target: c for c in placeholder_checks(config, "clinic", rendered, "dist/clinic")}
    assert {t for t, c in rows.items() if c.status == "fail"} == {"alerting.email.smarthost", "loki.role_arn"}
    assert rows["alerting.email.smarthost"].fix == "set alerting.email.smarthost in overlays/clinic.yaml, then python main.py --overlay clinic"
    assert rows["loki.role_arn"].fix.startswith("python main.py aws discover --overlay clinic")
    assert rows["alerting.email.to"].status == "pass" and "not used in dist/clinic" in rows["alerting.email.to"].detail


def test_no_placeholder_is_one_passing_row(tmp_path):
    overlay = tmp_path / "real.yaml"
    overlay.write_text(yaml.safe_dump(CONFIGURED))
    rows = placeholder_checks(load_overlay(overlay).config, "real", [], "dist/real")
    assert [(c.status, c.target) for c in rows] == [("pass", "overlay real")]

