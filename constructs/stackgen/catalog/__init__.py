"""The metrics catalog (metrics.yaml): which metric names each component of the stack produces.

Rules and dashboards are checked against it; every rendered ServiceMonitor/PodMonitor must scrape a
component it lists, so a new scrape target cannot arrive without its metrics being written down.
"""
from __future__ import annotations

import functools
from pathlib import Path

import yaml

CATALOG = Path(__file__).with_name("metrics.yaml")
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")
SUMMARY_SERIES = ("_sum", "_count")


def _series(group: dict) -> set[str]:
    names = set(group.get("metrics", []))
    for base in group.get("histograms", []):
        names |= {base, *(base + suffix for suffix in HISTOGRAM_SERIES)}
    for base in group.get("summaries", []):
        names |= {base, *(base + suffix for suffix in SUMMARY_SERIES)}
    return names


@functools.cache
def load() -> dict:
    return yaml.safe_load(CATALOG.read_text())


def component_series(name: str) -> set[str]:
    catalog = load()
    component = catalog["components"][name]
    names = _series(component)
    for shared in component.get("includes", []):
        names |= _series(catalog["shared"][shared])
    return names


def all_series() -> set[str]:
    return set().union(*(component_series(name) for name in load()["components"]))


def monitored_components() -> dict[str, list[str]]:
    """Monitor name -> the catalogued components it scrapes."""
    scraped: dict[str, list[str]] = {}
    for name, component in load()["components"].items():
        for monitor in component.get("monitors", []):
            scraped.setdefault(monitor, []).append(name)
    return scraped


def check_monitors_catalogued(monitors: list[dict]) -> list[str]:
    known = monitored_components()
    return [f"{monitor['kind']}/{monitor['metadata']['namespace']}/{monitor['metadata']['name']}: scrapes a "
            f"component whose metrics are not in {CATALOG.name}"
            for monitor in monitors if monitor["metadata"]["name"] not in known]
