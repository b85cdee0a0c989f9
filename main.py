"""Render the observability stack for every overlay into dist/, or validate what is there.

    python main.py                      render all overlays (what `cdk8s synth` runs)
    python main.py --overlay clinic     render one overlay, keep the others as they are
    python main.py validate             validate dist/ (schemas, CRDs, cross-references)
    python main.py alerts               print the alert list (README) from dist/hospital's rules
    python main.py security             print the justified security findings (README) from dist/
    python main.py listeners [--overlay NAME]
                                        the listener inventory (README): every port reached, TLS or plain;
                                        exit 1 when a plain one is not in stackgen/plain_ports.py
    python main.py diff [--base REF] [--json]
                                        what a fresh render changes against dist/ (or REF's), object by
                                        object; exit 1 when dist/ is stale
    python main.py doctor --overlay NAME
                                        check the cluster of the current kubeconfig context before Flux
                                        applies dist/flux/NAME.yaml (exit 1 when something is missing)
    python main.py aws discover|preflight|secrets bootstrap
                                        boto3: write a cluster overlay, check AWS before the first reconcile,
                                        create the Secrets Manager entries (python main.py aws --help)

Environment variables of the seed (ENABLE_AUTOSCALING, GRAFANA_MAX_REPLICAS, PROMETHEUS_RETENTION, ...)
override the overlays for this run; every override applied is printed.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# jsii's generated bindings check the type of every argument at run time inside `if __debug__:` blocks,
# which costs about a third of a render; they are meant for development, so synth runs optimized.
# The tests set STACKGEN_TYPECHECK=1 and keep those checks on.
# `cdk8s synth` runs `python main.py` (cdk8s.yaml): outside `pipenv run`, that python may lack the
# project's packages, so the project's own environment (.venv, as the README sets it up) takes over.
if __name__ == "__main__":
    python = sys.executable
    if importlib.util.find_spec("cdk8s") is None and (ROOT / ".venv" / "bin" / "python").exists():
        python = str(ROOT / ".venv" / "bin" / "python")
    typecheck = bool(os.environ.get("STACKGEN_TYPECHECK"))
    if python != sys.executable or (__debug__ and not typecheck):
        os.execv(python, [python, *([] if typecheck else ["-O"]), *sys.argv])
# Keep compiled bytecode even where PYTHONDONTWRITEBYTECODE is set: the generated CRD bindings are
# 100,000 lines, and compiling them costs more than rendering every overlay.
sys.dont_write_bytecode = False
# constructs/ is a source root (it must not shadow the `constructs` library); imports/ holds bindings.
sys.path[:0] = [str(ROOT / "constructs"), str(ROOT)]
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from stackgen.config import ConfigError, load_overlay  # noqa: E402


def say(line: str) -> None:
    """Under the cdk8s CLI (`pipenv run synth`), which swallows the app's stdout, report on stderr."""
    print(line, file=sys.stderr if os.environ.get("CDK8S_OUTDIR") else sys.stdout)


def render(args: argparse.Namespace, names: list[str] | None = None) -> list:
    """Load, check and render the overlays. Raises ConfigError on bad input."""
    overlays = Path(args.overlays)
    available = sorted(p.stem for p in overlays.glob("*.yaml"))
    loaded = []
    for name in names or available:
        path = overlays / f"{name}.yaml"
        if not path.exists():
            raise ConfigError(f"overlay {name!r} does not exist; available: {', '.join(available)}")
        loaded.append(load_overlay(path, dict(os.environ), source=f"{overlays.name}/{name}.yaml"))
    for overlay in loaded:
        for o in overlay.overrides:
            say(f"override {overlay.name}: {o.variable} sets {o.path} = {o.new!r} (overlay: {o.old!r})")
        if not overlay.config.otebpf.enabled:
            say(f"note {overlay.name}: OTeBPF is off: no OpenEMR traces or HTTP RED metrics, Tempo admits no "
                  "OTLP sender, and the alert rules on OpenEMR's HTTP metrics are not rendered")
    from stackgen.render import render_overlay  # loads the jsii runtime: only for valid input

    return [render_overlay(overlay) for overlay in loaded]


def synth(args: argparse.Namespace) -> int:
    from stackgen.render import publish

    try:
        rendered = render(args, args.overlay)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        print("dist/ was left unchanged.", file=sys.stderr)
        return 2
    dist = Path(args.dist)
    publish(dist, rendered, keep_others=bool(args.overlay))
    _mirror_for_cdk8s_cli(dist)
    for overlay in rendered:
        say(f"rendered dist/{overlay.name}: {len(overlay.manifests)} objects; Flux applies dist/flux/{overlay.name}.yaml")
    return 0


def diff(args: argparse.Namespace) -> int:
    """Render into a scratch directory and compare, object by object, with dist/ (or a git ref's)."""
    import contextlib
    import io
    import tempfile

    from stackgen import diff as objdiff
    from stackgen.render import publish

    dist = Path(args.dist)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            rendered = render(args)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch) / "dist"
        publish(fresh, rendered, keep_others=False)
        new = objdiff.working_tree(fresh)
    old = objdiff.git_tree(args.base, dist) if args.base else objdiff.working_tree(dist)
    changes, costs = objdiff.compare(old, new), objdiff.cost_deltas(old, new)
    if args.json:
        print(objdiff.as_json(changes, {overlay: {"cost": delta} for overlay, delta in costs.items()}), end="")
    else:
        print(objdiff.markdown(changes, objdiff.cost_lines(costs)), end="")
    return 0 if all(d.empty for d in changes) else 1


def _mirror_for_cdk8s_cli(dist: Path) -> None:
    """`cdk8s synth` lists what the app wrote into its own output directory (a scratch copy)."""
    outdir = os.environ.get("CDK8S_OUTDIR")
    if outdir and Path(outdir).resolve() != dist.resolve():
        shutil.rmtree(outdir, ignore_errors=True)
        shutil.copytree(dist, outdir)


def validate(args: argparse.Namespace) -> int:
    from stackgen.validate import validate_tree

    from stackgen.validate import custom_resource_count

    problems = validate_tree(Path(args.dist), args.kubernetes_version or None)
    for problem in problems:
        print(problem)
    print(f"validate: {len(problems)} problem(s); {custom_resource_count(Path(args.dist))} custom resources checked "
          "against their vendored CRDs")
    return 1 if problems else 0


def alerts(args: argparse.Namespace) -> int:
    from stackgen.components.rules import alert_table
    from stackgen.validate import load_tree

    overlay = (args.overlay or ["hospital"])[0]
    print(alert_table([o for o in load_tree(Path(args.dist) / overlay) if o["kind"] == "PrometheusRule"]), end="")
    return 0


def security(args: argparse.Namespace) -> int:
    from stackgen.lib.security_findings import report
    from stackgen.validate import load_tree, overlay_directories

    dist = Path(args.dist)
    print(report({d.name: load_tree(d, with_platform=True) for d in overlay_directories(dist)}), end="")
    return 0


def listeners(args: argparse.Namespace) -> int:
    """The listener inventory of each overlay in dist/ (or those named): exit 1 when a plain port is not excepted."""
    from stackgen.checks.listeners import listener_problems, markdown
    from stackgen.manifests import Manifests
    from stackgen.validate import load_tree, overlay_directories

    problems = []
    for directory in overlay_directories(Path(args.dist)):
        if args.overlay and directory.name not in args.overlay:
            continue
        manifests = Manifests(load_tree(directory, with_platform=True))
        print(f"## {directory.name}\n\n{markdown(manifests)}")
        problems += [f"{directory.name}: {p}" for p in listener_problems(manifests)]
    print("\n".join(problems + [f"listeners: {len(problems)} plain port(s) not in plain_ports.py"]))
    return 1 if problems else 0


def dashboards(args: argparse.Namespace) -> int:
    from stackgen.dashboards.docs import DOCS, check_or_write

    return check_or_write(Path(args.dist), DOCS, check=args.check)


def main(argv: list[str]) -> int:
    if argv[:1] == ["aws"]:
        from stackgen.aws.cli import main as aws_main

        return aws_main(argv[1:], ROOT)
    if argv[:1] == ["doctor"]:
        from stackgen.doctor.cli import main as doctor_main

        return doctor_main(argv[1:], ROOT)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", default="synth", choices=["synth", "validate", "alerts", "security", "diff", "dashboards",
                                                                "listeners"])
    parser.add_argument("--overlay", action="append", help="render only this overlay (repeatable)")
    parser.add_argument("--dist", default=os.environ.get("STACKGEN_DIST", str(ROOT / "dist")),
                        help="output directory (default: dist, or $STACKGEN_DIST)")
    parser.add_argument("--overlays", default=str(ROOT / "overlays"), help="overlay directory (default: overlays)")
    parser.add_argument("--kubernetes-version", action="append",
                        help="validate against this Kubernetes version (repeatable; default: oldest and newest supported)")
    parser.add_argument("--base", help="diff: compare with dist/ as committed at this git ref (default: the working tree)")
    parser.add_argument("--json", action="store_true", help="diff: JSON instead of Markdown")
    parser.add_argument("--check", action="store_true", help="dashboards: fail if docs/dashboards.md is out of date")
    args = parser.parse_args(argv)
    commands = {"synth": synth, "validate": validate, "alerts": alerts, "security": security, "diff": diff,
                "dashboards": dashboards, "listeners": listeners}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
