"""`pipenv run synth`: the cdk8s CLI (`cdk8s synth`, which runs main.py), ending with where the output went.

The CLI swallows the app's standard output and lists the scratch copy it keeps in build/cdk8s.out, which
is not what Flux applies. This runs it, keeps its errors, and prints main.py's own summary last: the
overlays, their object counts and dist/.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    env = dict(os.environ, CDK8S_CHECK_UPGRADE="false", JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20")
    result = subprocess.run(["npx", "--no-install", "cdk8s", "synth"], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stdout + result.stderr, end="", file=sys.stderr)
        return result.returncode
    listed = sum(line.lstrip().startswith("- ") for line in result.stdout.splitlines())
    print(f"cdk8s synth: {listed} files in build/cdk8s.out (the CLI's scratch copy; not applied)")
    print(result.stderr, end="")  # main.py's summary: under the CLI it reports on stderr
    return 0


if __name__ == "__main__":
    sys.exit(main())
