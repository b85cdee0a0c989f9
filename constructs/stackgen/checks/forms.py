"""Every address-like value in a rendered configuration file has the form its program parses.

The forms are recorded by each component beside the code that renders the value (`ADDRESS_FORMS`);
an address-like key (see forms.ADDRESS_KEY) that its component has not recorded is a problem too, so a
new address cannot arrive without someone looking up how it is parsed.
"""
from __future__ import annotations

import functools

import yaml

from stackgen.forms import ADDRESS_KEY, Form
from stackgen.manifests import Manifests, ref


@functools.cache
def recorded_forms() -> dict[str, dict[str, Form]]:
    """ConfigMap component (app.kubernetes.io/name) -> key path -> form."""
    from stackgen.components import fluent_bit, grafana, loki, mimir, otebpf, tempo

    return {"loki": loki.ADDRESS_FORMS, "tempo": tempo.ADDRESS_FORMS, "mimir": mimir.ADDRESS_FORMS,
            "otebpf": otebpf.ADDRESS_FORMS, "grafana": grafana.ADDRESS_FORMS,
            "fluent-bit": fluent_bit.ADDRESS_FORMS, "openemr-fluent-bit": fluent_bit.ADDRESS_FORMS}


def leaves(node, path: str = ""):
    """(dotted path, value) of every scalar; list items appear as `key[]`."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for item in node:
            yield from leaves(item, f"{path}[]")
    else:
        yield path, node


def config_files(config_map: dict):
    """(file name, parsed content) of each YAML or JSON file in a ConfigMap."""
    for name, content in sorted((config_map.get("data") or {}).items()):
        if name.endswith((".yaml", ".yml", ".json")):
            yield name, yaml.safe_load(content)


def address_problems(config_map: dict, forms: dict[str, Form]) -> list[str]:
    problems = []
    for file_name, content in config_files(config_map):
        for path, value in leaves(content):
            if not ADDRESS_KEY.search(path.removesuffix("[]").rsplit(".", 1)[-1]):
                continue
            form = forms.get(path)
            problem = "no form recorded for this address-like key" if form is None else form.problem(value)
            if problem:
                problems.append(f"{ref(config_map)} {file_name}: {path}: {problem}")
    return problems


def check_address_forms(m: Manifests) -> list[str]:
    problems = []
    for config_map in m.of_kind("ConfigMap"):
        component = config_map["metadata"].get("labels", {}).get("app.kubernetes.io/name")
        if component in recorded_forms():
            problems += address_problems(config_map, recorded_forms()[component])
    return problems
