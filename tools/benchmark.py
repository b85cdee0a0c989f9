"""Synth speed: the median wall time of rendering all three overlays, N runs each (default 5), for
`python main.py` and for `cdk8s synth`. A benchmark, not a test: it prints numbers and asserts nothing.

    pipenv run python tools/benchmark.py [--runs 5] [--only python|cdk8s]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", choices=["python", "cdk8s"])
    args = parser.parse_args()
    env = {**os.environ, "CDK8S_CHECK_UPGRADE": "false", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    with tempfile.TemporaryDirectory() as scratch:
        commands = {
            "python main.py": [sys.executable, "main.py", "--dist", str(Path(scratch) / "dist")],
            # The CLI runs the app from cdk8s.yaml (pipenv run python main.py) into dist/.
            "cdk8s synth": ["npx", "--no-install", "cdk8s", "synth"],
        }
        for name, command in commands.items():
            if args.only and not name.startswith({"python": "python", "cdk8s": "cdk8s"}[args.only]):
                continue
            timed(command, env)  # warm-up: bytecode cache, npx resolution
            samples = [timed(command, env) for _ in range(args.runs)]
            print(f"{name}: median {statistics.median(samples):.2f} s of {args.runs} "
                  f"(min {min(samples):.2f}, max {max(samples):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
