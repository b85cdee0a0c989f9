"""Every key of a rendered Fluent Bit configuration exists at the pinned version.

Fluent Bit's own --dry-run does not show this: it accepts unknown keys in plugin sections (they fail
only at start) and ignores unknown keys in `service` altogether. The key lists are in
catalog/fluent-bit-<version>.yaml, read from the plugins' config maps at that version.
"""
from __future__ import annotations

import functools
from pathlib import Path

import yaml

from stackgen import versions
from stackgen.checks.forms import config_files
from stackgen.manifests import Manifests, ref

CATALOG = Path(__file__).parents[1] / "catalog" / f"fluent-bit-{versions.FLUENT_BIT.tag}.yaml"
CONFIG_FILE = "fluent-bit.yaml"


@functools.cache
def catalog() -> dict:
    return yaml.safe_load(CATALOG.read_text())


def _unknown(keys, allowed, prefixes=()) -> list[str]:
    allowed = {key.lower() for key in allowed}
    return sorted(key for key in keys if key.lower() not in allowed
                  and not any(key.lower().startswith(prefix) for prefix in prefixes))


def _plugin_problems(kind: str, plugin: dict) -> list[str]:
    known = catalog()["plugins"][kind]
    name = plugin.get("name", "")
    if name not in known:
        return [f"{kind} plugin {name!r} has no key list in {CATALOG.name}"]
    prefixes = catalog().get("prefixes", {}).get(kind, {}).get(name, [])
    unknown = _unknown(plugin, catalog()["common"][kind] + known[name], prefixes)
    return [f"{kind} {name}: unknown key {key!r}" for key in unknown]


def config_problems(config: dict) -> list[str]:
    cat = catalog()
    problems = [f"unknown section {key!r}" for key in _unknown(config, cat["sections"])]
    problems += [f"service: unknown key {key!r}" for key in _unknown(config.get("service", {}), cat["service"])]
    pipeline = config.get("pipeline", {})
    for section, kind in (("inputs", "input"), ("filters", "filter"), ("outputs", "output")):
        for plugin in pipeline.get(section, []):
            problems += _plugin_problems(kind, plugin)
    for parser in config.get("parsers", []):
        problems += [f"parser {parser.get('name')}: unknown key {key!r}" for key in _unknown(parser, cat["parser"])]
    for parser in config.get("multiline_parsers", []):
        problems += [f"multiline parser {parser.get('name')}: unknown key {key!r}"
                     for key in _unknown(parser, cat["multiline_parser"])]
        for rule in parser.get("rules", []):
            problems += [f"multiline parser {parser.get('name')} rule: unknown key {key!r}"
                         for key in _unknown(rule, cat["multiline_parser_rule"])]
    return problems + _reference_problems(config)


def _reference_problems(config: dict) -> list[str]:
    """Parsers and multiline parsers a plugin names must be defined in the file (or built in)."""
    defined = {p["name"] for p in config.get("parsers", [])}
    multiline = {p["name"] for p in config.get("multiline_parsers", [])} | set(catalog()["builtin_multiline_parsers"])
    problems = []
    for plugin in [p for section in config.get("pipeline", {}).values() for p in section]:
        for name in str(plugin.get("multiline.parser", "")).replace(" ", "").split(","):
            if name and name not in multiline:
                problems.append(f"{plugin['name']}: multiline parser {name!r} is not defined")
        if "parser" in plugin and plugin["parser"] not in defined:
            problems.append(f"{plugin['name']}: parser {plugin['parser']!r} is not defined in the file")
    for parser in config.get("multiline_parsers", []):
        if "parser" in parser and parser["parser"] not in defined:
            problems.append(f"multiline parser {parser['name']}: parser {parser['parser']!r} is not defined")
    return problems


def check_fluent_bit_keys(m: Manifests) -> list[str]:
    problems = []
    for config_map in m.of_kind("ConfigMap"):
        for file_name, content in config_files(config_map):
            if file_name == CONFIG_FILE:
                problems += [f"{ref(config_map)} {file_name}: {p}" for p in config_problems(content)]
    return problems
