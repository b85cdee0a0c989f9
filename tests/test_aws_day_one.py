"""The README's day-one sequence, line by line, against moto_server: discover -> synth -> preflight ->
bootstrap -> (the user's keys) synth -> preflight, on an account as Terraform leaves it."""
from __future__ import annotations

import json
import re
import shlex
import subprocess

import yaml
from aws_moto import CLUSTER, aws_env, build_world, client, moto_url, set_user_keys  # noqa: F401
from conftest import ROOT, run_main
from overlay_keys import USER_KEYS, dotted


def readme_block(name: str) -> str:
    return re.search(rf"<!-- {name}:begin -->\n```[a-z]*\n(.*?)```\n<!-- {name}:end -->",
                     (ROOT / "README.md").read_text(), re.S).group(1)


def readme_commands() -> list[list[str]]:
    return [shlex.split(line) for line in readme_block("day-one").splitlines() if line.strip()]


def in_scratch(command: list[str], overlays, dist) -> list[str]:
    """The same command on a scratch copy of overlays/ and dist/ (the repository's stay untouched)."""
    assert command[:2] == ["python", "main.py"], command
    args = command[2:]
    if args[:1] == ["aws"]:
        return ["aws", "--overlays", str(overlays), "--dist", str(dist), *args[1:]]
    return ["--overlays", str(overlays), "--dist", str(dist), *args]


def fill_in_receivers():
    """What the user does between the two preflights: the real credentials, the placeholder tag removed."""
    secrets = client("secretsmanager")
    for entry in secrets.list_secrets()["SecretList"]:
        tags = {t["Key"] for t in entry.get("Tags", [])}
        if "monitoring.openemr.io/placeholder" in tags:
            keys = json.loads(secrets.get_secret_value(SecretId=entry["Name"])["SecretString"])
            secrets.put_secret_value(SecretId=entry["Name"], SecretString=json.dumps({k: "real" for k in keys}))
            secrets.untag_resource(SecretId=entry["Name"], TagKeys=["monitoring.openemr.io/placeholder"])


def test_readme_day_one_sequence(aws_env, tmp_path):
    build_world()
    overlays, dist = tmp_path / "overlays", tmp_path / "dist"
    overlays.mkdir()
    for name in ("clinic", "hospital", "large"):
        (overlays / f"{name}.yaml").write_text((ROOT / "overlays" / f"{name}.yaml").read_text())
    # The password file lands in a scratch git repository whose .gitignore is the project's.
    repo = tmp_path / "clone"
    repo.mkdir()
    (repo / ".gitignore").write_text((ROOT / ".gitignore").read_text())
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    commands = readme_commands()
    assert [c[2:4] for c in commands] == [["aws", "discover"], ["--overlay", CLUSTER], ["aws", "preflight"],
                                          ["aws", "secrets"], ["--overlay", CLUSTER], ["aws", "preflight"]]
    results = []
    for command in commands:
        args = [str(repo / a) if a.startswith(".credentials/") else a for a in in_scratch(command, overlays, dist)]
        results.append(run_main(*args, env=aws_env))
        if command[2:4] == ["aws", "secrets"]:
            fill_in_receivers()
            # The keys the README says to set, with the user's values.
            assert dotted(yaml.safe_load(readme_block("day-one-keys"))) == dotted(USER_KEYS)
            set_user_keys(overlays / f"{CLUSTER}.yaml")
    discovered, synth, first, bootstrap, resynth, second = results
    assert discovered.returncode == 0 and synth.returncode == 0, discovered.stderr + synth.stderr
    assert "123456789012" not in (overlays / f"{CLUSTER}.yaml").read_text()
    for key in dotted(USER_KEYS):
        assert f"\n  {key}: " in discovered.stdout, discovered.stdout
    # Day one: everything holds but the Secrets Manager entries, which bootstrap creates, and the
    # placeholders only the user can replace, each named by its key, as the README shows them.
    assert first.returncode == 1
    failing = [line for line in first.stdout.splitlines() if line.startswith("| FAIL")]
    entries = [line for line in failing if "Secrets Manager entry" in line]
    assert entries and all("secrets bootstrap" in line for line in entries)
    placeholders = [line for line in failing if line not in entries]
    assert {line.split(" | ")[2] for line in placeholders} == dotted(USER_KEYS)
    assert placeholders == readme_block("day-one-placeholders").splitlines()
    assert bootstrap.returncode == 0 and "created" in bootstrap.stdout
    assert (repo / ".credentials" / CLUSTER).stat().st_mode & 0o777 == 0o600
    assert resynth.returncode == 0, resynth.stderr
    assert second.returncode == 0, second.stdout
    assert second.stdout.rstrip().endswith("0 failed, 0 warnings")
