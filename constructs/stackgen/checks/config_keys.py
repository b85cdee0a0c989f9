"""Loki, Tempo and Mimir refuse to start on an unknown configuration key: check every key path of a
rendered configuration against the pinned version's key tree (catalog/config-reference/, vendored by
tools/import_pinned.py with its provenance).

A key tree is JSON: an object maps the allowed keys; a string is a leaf naming its type (`<free>` and
`<any>` accept anything below them); `{"[]": node}` is a list of `node`; `{"{}": node}` a map with
keys of the user's choosing whose values are `node`; the top-level `__meta__` says where it comes from.
"""
from __future__ import annotations

import difflib
import functools
import json
from pathlib import Path
from typing import Any

import yaml

REFERENCE = Path(__file__).resolve().parents[1] / "catalog" / "config-reference"
KEY_TREES = {"loki": "loki-3.7.6.keys.json", "tempo": "tempo-2.10.8.keys.json", "mimir": "mimir-main-pre-3.0.keys.json"}
FREE = ("<free>", "<any>")


@functools.cache
def key_tree(backend: str) -> dict:
    return json.loads((REFERENCE / KEY_TREES[backend]).read_text())


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _unknown(path: str, key: Any, node: dict) -> str:
    choices = [k for k in node if k not in ("__meta__", "[]", "{}")]
    close = difflib.get_close_matches(str(key), choices, n=3, cutoff=0.6)
    return _join(path, key) + (f" (did you mean: {', '.join(close)})" if close else "")


def unknown_keys(node: Any, value: Any, path: str = "") -> list[str]:
    """Key paths of `value` that `node` (a key tree) does not allow."""
    if isinstance(node, str):
        if node in FREE or not isinstance(value, dict):
            return []
        return [f"{_join(path, key)} (parent is {node})" for key in value]
    if value is None:
        return []
    if "[]" in node:
        items = value if isinstance(value, list) else [value]
        return [p for i, item in enumerate(items) for p in unknown_keys(node["[]"], item, f"{path}[{i}]")]
    if "{}" in node:
        return [p for key, item in (value.items() if isinstance(value, dict) else ())
                for p in unknown_keys(node["{}"], item, _join(path, key))]
    if not isinstance(value, dict):
        return []
    found = []
    for key, item in value.items():
        if key in node and key != "__meta__":
            found += unknown_keys(node[key], item, _join(path, key))
        else:
            found.append(_unknown(path, key, node))
    return found


def config_key_problems(backend: str, config: dict) -> list[str]:
    return [f"{backend}: unknown configuration key {path}" for path in unknown_keys(key_tree(backend), config)]


def check_backend_config_keys(m) -> list[str]:
    """Every rendered Loki, Tempo and Mimir configuration (ConfigMap <backend>-config, key config.yaml)."""
    return [problem for backend in KEY_TREES for config_map in m.of_kind("ConfigMap")
            if config_map["metadata"]["name"] == f"{backend}-config"
            for problem in config_key_problems(backend, yaml.safe_load(config_map["data"]["config.yaml"]))]
