"""Overlay inheritance: a cluster overlay on a size overlay on the defaults, with the same named-key errors."""
from __future__ import annotations

import pytest
from conftest import ROOT
from stackgen.config import ConfigError, load_overlay


@pytest.fixture()
def overlays(tmp_path):
    directory = tmp_path / "overlays"
    directory.mkdir()
    (directory / "hospital.yaml").write_text((ROOT / "overlays" / "hospital.yaml").read_text())
    return directory


def load(directory, name, content):
    (directory / f"{name}.yaml").write_text(content)
    return load_overlay(directory / f"{name}.yaml", source=f"overlays/{name}.yaml")


def test_cluster_overlay_sits_on_its_base_and_the_defaults(overlays):
    loaded = load(overlays, "prod", "base: hospital\ncluster_name: prod\nprometheus: {retention: 7d}\n")
    config = loaded.config
    assert config.cluster_name == "prod" and config.prometheus.retention == "7d"
    assert config.prometheus.replicas == 2 and config.prometheus.resources.cpu_request == "400m"  # from hospital
    assert config.grafana.storage_size == "20Gi"  # a default
    assert loaded.bases == ["overlays/hospital.yaml"]


@pytest.mark.parametrize("content,expected", [
    ("base: hospitl\n", "overlays/prod.yaml: base='hospitl' must name another overlay in overlays/; available: hospital"),
    ("base: prod\n", "overlays/prod.yaml: base='prod' must name another overlay"),
    ("base: [hospital]\n", "overlays/prod.yaml: base=['hospital'] must name another overlay"),
    ("base: hospital\nprometheus: {retenton: 7d}\n", "overlays/prod.yaml: prometheus.retenton: unknown key"),
    ("base: hospital\nloki: {write_replicas: 1}\n",
     "overlays/prod.yaml: loki.replication_factor=3 must be <= the 1 ingesting replica(s)"),
])
def test_errors_name_the_file_and_key(overlays, content, expected):
    with pytest.raises(ConfigError) as error:
        load(overlays, "prod", content)
    assert expected in str(error.value)


def test_an_error_in_the_base_names_the_base(overlays):
    (overlays / "hospital.yaml").write_text("prometheus: {scrape_interval: 30 seconds}\n")
    with pytest.raises(ConfigError) as error:
        load(overlays, "prod", "base: hospital\ncluster_name: prod\n")
    assert "overlays/hospital.yaml: prometheus.scrape_interval='30 seconds' must be a duration" in str(error.value)


def test_a_cycle_of_bases_is_refused(overlays):
    (overlays / "hospital.yaml").write_text("base: prod\n")
    with pytest.raises(ConfigError) as error:
        load(overlays, "prod", "base: hospital\n")
    assert "overlays/hospital.yaml: base='prod' makes a cycle: overlays/prod.yaml -> overlays/hospital.yaml -> prod" in str(error.value)
