"""`python main.py doctor --overlay NAME [--context CTX] [--kubeconfig PATH] [--json]`.

Exit codes (as `aws preflight`): 0 every check passed (warnings allowed), 1 a check failed, 2 bad input or
an API error (no kubeconfig, unreachable API server, unknown overlay): one line on stderr, no traceback.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stackgen.config import ConfigError


def _parser(root: Path) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="main.py doctor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--overlay", required=True, help="the overlay whose dist/ Flux will apply")
    parser.add_argument("--context", help="kubeconfig context (default: the current context)")
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: KUBECONFIG, else ~/.kube/config)")
    parser.add_argument("--overlays", default=str(root / "overlays"), help="overlay directory (default: overlays)")
    parser.add_argument("--dist", default=str(root / "dist"), help="rendered tree (default: dist)")
    parser.add_argument("--json", action="store_true", help="JSON on stdout")
    return parser


def main(argv: list[str], root: Path) -> int:
    args = _parser(root).parse_args(argv)
    from stackgen.aws.cli import _load
    from stackgen.aws.report import as_json, table
    from stackgen.doctor.checks import run
    from stackgen.doctor.cluster import Cluster, DoctorError
    from stackgen.doctor.inputs import Inputs
    from stackgen.doctor.tree import TreeError, load_stages

    try:
        loaded = _load(args, args.overlay)
        stages = load_stages(Path(args.dist), loaded.name, loaded.config.flux.path_prefix)
        cluster = Cluster.connect(args.kubeconfig, args.context)
        checks = run(Inputs(loaded.name, stages, cluster, loaded.config))
    except (ConfigError, TreeError, DoctorError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(as_json(checks, overlay=loaded.name, cluster=cluster.host) if args.json else table(checks), end="")
    return 1 if any(c.status == "fail" for c in checks) else 0
