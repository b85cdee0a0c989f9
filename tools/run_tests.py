"""The README's test command: pytest, after making sure the peer security suite is there.

checkov pins its own boto3 (and more) and cannot share the project's environment, so it gets a virtual
environment of its own (.venv-checkov), at the version in tools/checkov-requirements.txt. The tests
find it through $CHECKOV.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-checkov"
REQUIREMENTS = ROOT / "tools" / "checkov-requirements.txt"


def ensure_checkov() -> Path:
    checkov = VENV / "bin" / "checkov"
    stamp = VENV / "requirements.txt"
    if not checkov.exists() or not stamp.exists() or stamp.read_text() != REQUIREMENTS.read_text():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", "-r", str(REQUIREMENTS)], check=True)
        stamp.write_text(REQUIREMENTS.read_text())
    return checkov


if __name__ == "__main__":
    os.environ["CHECKOV"] = str(ensure_checkov())
    sys.exit(pytest.main(sys.argv[1:]))
