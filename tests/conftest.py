"""Shared fixtures: the committed dist/ and a fresh render of it, read as Kubernetes objects."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "constructs"), str(ROOT)]
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from stackgen.validate import load_tree  # noqa: E402

OVERLAYS = ("clinic", "hospital", "hospital-elk", "large")
# The size overlays; the others are based on one of them (`base:`) and keep its size.
SIZES = ("clinic", "hospital", "large")
DIST = ROOT / "dist"
# Seed variables that would change a render; tests run main.py without any of them unless they say so.
from stackgen.config import ENV_OVERRIDES, load_overlay  # noqa: E402
from stackgen.manifests import Manifests  # noqa: E402


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_OVERRIDES and k != "STACKGEN_DIST"}
    # Renders in the tests keep jsii's run-time type checks on (synth runs optimized without them), and
    # `cdk8s synth` (app: python main.py) finds this environment's python first, as under `pipenv run`.
    env.update(STACKGEN_TYPECHECK="1", PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    env.update(extra)
    return env


def run_main(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT, capture_output=True,
                          text=True, env=env or clean_env(), timeout=300)


@pytest.fixture(scope="session")
def fresh_dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fresh") / "dist"
    result = run_main("--dist", str(out))
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session", params=OVERLAYS)
def overlay(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def objects(overlay) -> list[dict]:
    return load_tree(DIST / overlay)


@pytest.fixture(scope="session")
def manifests(objects) -> Manifests:
    return Manifests(objects)


def overlay_config(overlay: str):
    """The overlay's validated configuration, as synth reads it (without environment overrides)."""
    return load_overlay(ROOT / "overlays" / f"{overlay}.yaml", {}, source=f"overlays/{overlay}.yaml").config


def renders_elasticsearch(objects: list[dict]) -> bool:
    """The overlay's logs.backend is elasticsearch or both (ECK's resources are rendered)."""
    return any(o["kind"] == "Elasticsearch" for o in objects)


def size_of(overlay: str) -> str:
    """The size overlay an overlay is based on (itself for a size overlay)."""
    while overlay not in SIZES:
        overlay = yaml.safe_load((ROOT / "overlays" / f"{overlay}.yaml").read_text())["base"]
    return overlay


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def pytest_terminal_summary(terminalreporter):
    """Say how many custom resources the schema tests checked against the vendored CRDs (no check skips
    for want of a CRD: every schema is in imports/crds)."""
    from stackgen.validate import is_custom

    passed = {report.nodeid for report in terminalreporter.stats.get("passed", [])}
    validated = [name for name in OVERLAYS if
                 f"tests/test_validation.py::test_overlay_is_valid_for_oldest_and_newest_kubernetes[{name}]" in passed]
    if validated:
        count = sum(is_custom(obj) for name in validated for obj in load_tree(DIST / name))
        terminalreporter.write_line(f"CRD schemas: {count} custom resources of {', '.join(validated)} validated "
                                    "against the vendored CRDs (imports/crds), none skipped")
