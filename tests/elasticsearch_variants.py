"""The ELK variants of the overlays, rendered once per test session with LOGS_BACKEND, and readers of
what the tests look at in them (test_elasticsearch*.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import clean_env, run_main
from stackgen.validate import load_tree

RENDERED = ("clinic", "hospital")


@pytest.fixture(scope="session", params=["elasticsearch", "both"])
def variant(request, tmp_path_factory) -> tuple[str, Path]:
    out = tmp_path_factory.mktemp(request.param) / "dist"
    args = [arg for name in RENDERED for arg in ("--overlay", name)]
    result = run_main("--dist", str(out), *args, env=clean_env(LOGS_BACKEND=request.param))
    assert result.returncode == 0, result.stderr
    return request.param, out


def objects_of(tree: Path, overlay: str) -> list[dict]:
    return load_tree(tree / overlay)


def one(objects, kind, name):
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


def plan(objects) -> dict:
    return json.loads(one(objects, "ConfigMap", "elasticsearch-setup")["data"]["plan.json"])


def bodies(objects) -> dict[str, dict]:
    return {step["path"]: step["body"] for step in plan(objects)["requests"]}



def flatten(properties: dict, prefix: str = "") -> dict[str, dict]:
    fields = {}
    for name, field in properties.items():
        fields[prefix + name] = field
        fields.update(flatten(field.get("properties", {}), f"{prefix}{name}."))
    return fields



def ndjson(objects) -> list[dict]:
    text = one(objects, "ConfigMap", "kibana-saved-searches")["data"]["saved-searches.ndjson"]
    return [json.loads(line) for line in text.splitlines()]



def walk(node):
    yield node
    for child in node.children:
        yield from walk(child)



def fluent_bit(objects) -> dict:
    return yaml.safe_load(one(objects, "ConfigMap", "fluent-bit-config")["data"]["fluent-bit.yaml"])



@pytest.fixture(scope="session")
def baseline(tmp_path_factory) -> Path:
    """The same overlays with the default backend, rendered from the same working tree."""
    out = tmp_path_factory.mktemp("loki") / "dist"
    result = run_main("--dist", str(out), *[arg for name in RENDERED for arg in ("--overlay", name)])
    assert result.returncode == 0, result.stderr
    return out
