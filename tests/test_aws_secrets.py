"""`aws secrets bootstrap` against moto_server: creates what is missing, never overwrites, never shows the password."""
from __future__ import annotations

import json
import os
import subprocess

import pytest
from aws_moto import CLUSTER, aws_env, client, moto_url  # noqa: F401
from conftest import ROOT, run_main

OVERLAY = f"base: hospital\ncluster_name: {CLUSTER}\n"
ENTRIES = {f"{CLUSTER}/monitoring/{name}": keys for name, keys in {
    "grafana-admin": ["admin-password", "admin-user"], "alertmanager-slack": ["api-url"],
    "alertmanager-pagerduty": ["routing-key"], "alertmanager-smtp": ["password"]}.items()}


@pytest.fixture()
def overlays(tmp_path):
    directory = tmp_path / "overlays"
    directory.mkdir()
    (directory / "hospital.yaml").write_text((ROOT / "overlays" / "hospital.yaml").read_text())
    (directory / f"{CLUSTER}.yaml").write_text(OVERLAY)
    return directory


def bootstrap(env, overlays, *extra):
    return run_main("aws", "--overlays", str(overlays), "secrets", "bootstrap", "--overlay", CLUSTER, *extra, env=env)


def values():
    secrets = client("secretsmanager")
    return {e["Name"]: json.loads(secrets.get_secret_value(SecretId=e["Name"])["SecretString"])
            for e in secrets.list_secrets()["SecretList"]}


def test_bootstrap_creates_each_entry_with_the_keys_the_external_secrets_read(aws_env, overlays):
    result = bootstrap(aws_env, overlays)
    assert result.returncode == 0, result.stderr
    created = values()
    assert {name: sorted(value) for name, value in created.items()} == ENTRIES
    admin = created[f"{CLUSTER}/monitoring/grafana-admin"]
    assert admin["admin-user"] == "admin" and len(admin["admin-password"]) >= 32
    assert admin["admin-password"] not in result.stdout + result.stderr
    assert created[f"{CLUSTER}/monitoring/alertmanager-slack"] == {"api-url": "REPLACE_ME"}
    assert "fill in api-url: Slack incoming webhook URL" in result.stdout
    tags = {e["Name"]: {t["Key"]: t["Value"] for t in e.get("Tags", [])} for e in client("secretsmanager").list_secrets()["SecretList"]}
    assert tags[f"{CLUSTER}/monitoring/alertmanager-slack"]["monitoring.openemr.io/placeholder"] == "true"
    assert "monitoring.openemr.io/placeholder" not in tags[f"{CLUSTER}/monitoring/grafana-admin"]


def test_bootstrap_is_idempotent_and_never_overwrites(aws_env, overlays):
    secrets = client("secretsmanager")
    secrets.create_secret(Name=f"{CLUSTER}/monitoring/alertmanager-slack",
                          SecretString=json.dumps({"api-url": "https://hooks.slack.com/services/T/B/real"}))
    first = bootstrap(aws_env, overlays)
    assert first.returncode == 0, first.stderr
    assert f"exists   {CLUSTER}/monitoring/alertmanager-slack (Secret alertmanager-slack): left as it is" in first.stdout
    before = values()
    assert before[f"{CLUSTER}/monitoring/alertmanager-slack"] == {"api-url": "https://hooks.slack.com/services/T/B/real"}
    second = bootstrap(aws_env, overlays)
    assert second.returncode == 0 and "created" not in second.stdout
    assert values() == before
    for name in ENTRIES:
        assert len(secrets.list_secret_version_ids(SecretId=name)["Versions"]) == 1


def test_password_only_on_request_and_only_into_a_git_ignored_0600_file(aws_env, overlays, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitignore").write_text((ROOT / ".gitignore").read_text())
    refused = bootstrap(aws_env, overlays, "--password-file", str(repo / "grafana-password.txt"))
    assert refused.returncode == 2 and "is not ignored by git" in refused.stderr
    assert client("secretsmanager").list_secrets()["SecretList"] == []  # refused before creating anything
    target = repo / ".credentials" / CLUSTER
    written = bootstrap(aws_env, overlays, "--password-file", str(target))
    assert written.returncode == 0, written.stderr
    password = values()[f"{CLUSTER}/monitoring/grafana-admin"]["admin-password"]
    assert target.read_text() == f"grafana-admin/admin-password={password}\n"
    assert oct(os.stat(target).st_mode & 0o777) == "0o600"
    assert password not in written.stdout + written.stderr
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout
    assert ".credentials" not in status


def test_show_password_prints_it(aws_env, overlays):
    result = bootstrap(aws_env, overlays, "--show-password")
    password = values()[f"{CLUSTER}/monitoring/grafana-admin"]["admin-password"]
    assert f"generated admin-password: {password}" in result.stdout


def test_repository_ignores_the_credentials_directory():
    result = subprocess.run(["git", "check-ignore", "-q", "--no-index", ".credentials/openemr-prod"], cwd=ROOT)
    assert result.returncode == 0


def test_plain_secret_overlay_has_nothing_to_bootstrap(aws_env, overlays):
    (overlays / f"{CLUSTER}.yaml").write_text(OVERLAY + "secrets: {provider: kubernetes}\n")
    result = bootstrap(aws_env, overlays)
    assert result.returncode == 2 and "secrets.provider is kubernetes" in result.stderr
