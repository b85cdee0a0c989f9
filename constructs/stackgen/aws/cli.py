"""`python main.py aws discover|preflight|secrets bootstrap`: argument handling, output and exit codes.

Exit codes: 0 all good, 1 a check failed or something was not found, 2 bad input or an AWS error (one
line on stderr, no traceback).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from stackgen.config import ConfigError, LoadedConfig, load_overlay

USAGE = """aws commands (boto3; standard configuration: AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, credential chain)

    python main.py aws discover --cluster NAME --base hospital [--region R] [--output overlays/NAME.yaml]
    python main.py aws preflight --overlay NAME [--json]
    python main.py aws secrets bootstrap --overlay NAME [--password-file .credentials/NAME] [--show-password]
"""


def _parser(root: Path) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="main.py aws", description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", help="AWS profile (default: AWS_PROFILE, else the default chain)")
    parser.add_argument("--overlays", default=str(root / "overlays"), help="overlay directory (default: overlays)")
    parser.add_argument("--dist", default=str(root / "dist"), help="rendered tree (default: dist)")
    parser.add_argument("--json", action="store_true", help="JSON on stdout (progress stays on stderr)")
    commands = parser.add_subparsers(dest="command", required=True)
    discover = commands.add_parser("discover", help="write a cluster overlay from what the account holds")
    discover.add_argument("--cluster", help="EKS cluster name (default: the overlay's cluster_name)")
    discover.add_argument("--region", help="AWS region (default: the overlay's aws.region, else AWS_REGION)")
    discover.add_argument("--base", help="size overlay the cluster overlay builds on (clinic, hospital, large)")
    discover.add_argument("--overlay", help="re-discover for this existing cluster overlay")
    discover.add_argument("--output", help="cluster overlay to write (default: <overlays>/<cluster>.yaml)")
    preflight = commands.add_parser("preflight", help="check everything the overlay references")
    preflight.add_argument("--overlay", required=True)
    secrets_command = commands.add_parser("secrets", help="Secrets Manager entries").add_subparsers(dest="action", required=True)
    bootstrap = secrets_command.add_parser("bootstrap", help="create the missing entries, never overwrite one")
    bootstrap.add_argument("--overlay", required=True)
    bootstrap.add_argument("--password-file", help="write the generated Grafana admin password here (0600, git-ignored)")
    bootstrap.add_argument("--show-password", action="store_true", help="print the generated password")
    for sub in (preflight, bootstrap):
        sub.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON on stdout")
    discover.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON on stdout")
    return parser


def _load(args: argparse.Namespace, name: str) -> LoadedConfig:
    overlays = Path(args.overlays)
    path = overlays / f"{name}.yaml"
    if not path.exists():
        available = ", ".join(sorted(p.stem for p in overlays.glob("*.yaml")))
        raise ConfigError(f"overlay {name!r} does not exist; available: {available}")
    return load_overlay(path, None, source=f"{overlays.name}/{name}.yaml")


def main(argv: list[str], root: Path) -> int:
    args = _parser(root).parse_args(argv)
    from botocore.exceptions import BotoCoreError, ClientError

    from stackgen.aws.session import AwsError
    try:
        if args.command == "discover":
            return _discover(args)
        if args.command == "preflight":
            return _preflight(args)
        return _bootstrap(args)
    except (AwsError, ConfigError, ClientError, BotoCoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _discover(args: argparse.Namespace) -> int:
    from stackgen.aws.discover import discover, write_overlay
    from stackgen.aws.session import Aws
    from stackgen.checks.placeholders import placeholders

    existing = _load(args, args.overlay) if args.overlay else None
    cluster = args.cluster or (existing.config.cluster_name if existing else None)
    region = args.region or (existing.config.aws.region if existing else None)
    base = args.base or (existing.bases[-1].rsplit("/", 1)[-1].removesuffix(".yaml") if existing and existing.bases else None)
    if not cluster or not base:
        raise ConfigError("discover needs --cluster (or --overlay naming an overlay with cluster_name) and --base "
                          "(the size overlay: clinic, hospital or large)")
    output = Path(args.output) if args.output else Path(args.overlays) / f"{args.overlay or cluster}.yaml"
    if not (output.parent / f"{base}.yaml").is_file() or output.stem == base:
        raise ConfigError(f"--base {base!r} must name another overlay beside {output}")
    aws = Aws(region, args.profile)
    discovery = discover(aws, cluster)
    data = write_overlay(output, base, discovery)
    try:
        written = load_overlay(output, None, source=str(output))
    except ConfigError as error:
        raise ConfigError(f"the written overlay does not load: {error}") from None
    missing = discovery.missing
    # What AWS cannot tell (mail, URLs): the user sets it; preflight fails while dist/ uses a placeholder.
    to_set = placeholders(written.config)
    if args.json:
        print(json.dumps({"overlay": str(output), "values": data, "notes": discovery.notes(),
                          "missing": [{"key": m.wanted.key, "reason": m.how} for m in missing],
                          "placeholders": [{"key": p.key, "value": p.value, "reason": p.why} for p in to_set]},
                         indent=2, sort_keys=True))
    else:
        print(f"wrote {output} (base: {base})")
        for note in discovery.notes():
            print(f"note: {note}")
        for found in discovery.found:
            print(f"  {found.wanted.key}: {found.value} (by {found.how})" if found.value else
                  f"  {found.wanted.key}: MISSING, {found.how}")
        if to_set:
            print(f"set in {output} what only you know (documentation placeholders; preflight and doctor fail while "
                  "the render uses one):")
        for placeholder in to_set:
            print(f"  {placeholder.key}: {placeholder.value} ({placeholder.why})")
    return 1 if missing else 0


def _preflight(args: argparse.Namespace) -> int:
    from stackgen.aws.preflight import preflight
    from stackgen.aws.report import as_json, table
    from stackgen.aws.session import Aws

    loaded = _load(args, args.overlay)
    aws = Aws(loaded.config.aws.region, args.profile)
    checks = preflight(aws, loaded.config, Path(args.dist) / loaded.name)
    print(as_json(checks, overlay=loaded.name) if args.json else table(checks), end="")
    return 1 if any(c.status == "fail" for c in checks) else 0


def _bootstrap(args: argparse.Namespace) -> int:
    from stackgen.aws.bootstrap import bootstrap, git_ignored, write_password_file
    from stackgen.aws.session import Aws, AwsError

    loaded = _load(args, args.overlay)
    password_file = Path(args.password_file).resolve() if args.password_file else None
    if password_file:
        password_file.parent.mkdir(parents=True, exist_ok=True)
        if not git_ignored(password_file):
            raise AwsError(f"{args.password_file} is not ignored by git: choose a path .gitignore covers "
                           "(e.g. .credentials/<overlay>)")
    outcomes = bootstrap(Aws(loaded.config.aws.region, args.profile), loaded.config)
    written = write_password_file(password_file, outcomes) if password_file else False
    if args.json:
        print(json.dumps({"overlay": loaded.name, "entries": [
            {"secret": o.secret, "entry": o.entry, "action": o.action, "fill_in": [k.key for k in o.fill_in],
             **({"generated": o.generated} if args.show_password and o.generated else {})} for o in outcomes]},
            indent=2, sort_keys=True))
        return 0
    for o in outcomes:
        print(f"{o.action:8} {o.entry} (Secret {o.secret})" + ("" if o.action == "created" else ": left as it is"))
        for key in o.fill_in:
            print(f"         fill in {key.key}: {key.what}")
        for key, value in o.generated.items():
            shown = value if args.show_password else ("written to " + str(args.password_file) if written else
                                                      f"not shown (--show-password, or read it: aws secretsmanager "
                                                      f"get-secret-value --secret-id {o.entry})")
            print(f"         generated {key}: {shown}")
    if any(o.fill_in for o in outcomes):
        print("Put the real values (aws secretsmanager put-secret-value --secret-id <entry> --secret-string '<JSON>') "
              "and remove the tag monitoring.openemr.io/placeholder; preflight reports each entry until then.")
    return 0
