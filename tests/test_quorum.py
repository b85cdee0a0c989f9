"""The write path survives a node or a zone down: a placement model read from dist/ (replicas, replication
factors in the rendered configurations, spread constraints, anti-affinity, PDBs, update strategies), the
upstream charts' disruption settings, the doors of the write and read paths, and the config rule."""
from __future__ import annotations

import copy
import functools

import pytest
import yaml
from conftest import DIST, ROOT
from stackgen.config import ConfigError, load_overlay
from stackgen.validate import load_tree

# The overlays that run the scalable topologies (they claim high availability); clinic runs one process.
HA_OVERLAYS = ("hospital", "hospital-elk", "large")
# What the cluster is assumed to offer the HA overlays: nodes in three availability zones.
ZONES = 3
HOSTNAME, ZONE = "kubernetes.io/hostname", "topology.kubernetes.io/zone"
# Every replicated hash ring: its StatefulSet, and where its replication factor is in the rendered config.
# Loki applies common.replication_factor to the ingester ring and to the index-gateway ring (used in its
# `ring` mode); the backend's query-scheduler ring is the read path's door to the queriers.
RINGS = {
    "loki-write": ("loki", ("common", "replication_factor")),
    "loki-backend": ("loki", ("common", "replication_factor")),
    "tempo-ingester": ("tempo", ("ingester", "lifecycler", "ring", "replication_factor")),
    "mimir-ingester": ("mimir", ("ingester", "ring", "replication_factor")),
    "mimir-store-gateway": ("mimir", ("store_gateway", "sharding_ring", "replication_factor")),
}
EVENTS = ("node down", "zone down", "node drain", "rollout")


@functools.cache
def tree(overlay: str) -> list[dict]:
    """dist/<overlay>, read once (callers copy before they change anything)."""
    return load_tree(DIST / overlay)


def named(objects, kind, name):
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def config_of(objects, backend) -> dict:
    return yaml.safe_load(named(objects, "ConfigMap", f"{backend}-config")["data"]["config.yaml"])


def replication_factor(objects, ring) -> int:
    backend, path = RINGS[ring]
    node = config_of(objects, backend)
    for key in path:
        node = node[key]
    return node


def selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def members_lost(objects, ring) -> dict[str, int]:
    """The most members of the ring that each event can take at once, from what the scheduler, the eviction
    API and the StatefulSet controller are told in dist/."""
    sts = named(objects, "StatefulSet", ring)
    members, pod = sts["spec"]["replicas"], sts["spec"]["template"]
    labels, spec = pod["metadata"]["labels"], pod["spec"]
    required = spec.get("affinity", {}).get("podAntiAffinity", {}).get("requiredDuringSchedulingIgnoredDuringExecution", [])
    per_node = 1 if any(t["topologyKey"] == HOSTNAME and selects(t["labelSelector"], labels) for t in required) else members
    per_zone = members
    for c in spec.get("topologySpreadConstraints", []):
        if c["topologyKey"] == ZONE and c["whenUnsatisfiable"] == "DoNotSchedule" and selects(c["labelSelector"], labels):
            # Without minDomains the scheduler counts only the zones that have nodes now: possibly one.
            domains = min(c.get("minDomains", 1), ZONES)
            per_zone = min(per_zone, (members + (domains - 1) * c["maxSkew"]) // domains)
    pdbs = [p for p in objects if p["kind"] == "PodDisruptionBudget" and selects(p["spec"]["selector"], labels)]
    drain = min((p["spec"]["maxUnavailable"] for p in pdbs if isinstance(p["spec"].get("maxUnavailable"), int)),
                default=members)
    strategy = sts["spec"].get("updateStrategy", {"type": "RollingUpdate"})
    rollout = strategy.get("rollingUpdate", {}).get("maxUnavailable", 1) if strategy["type"] == "RollingUpdate" else members
    return {"node down": min(per_node, per_zone), "zone down": per_zone, "node drain": drain, "rollout": rollout}


def quorum_failures(objects) -> list[str]:
    """(ring, event) pairs after which some series has fewer than floor(RF/2)+1 live copies."""
    failures = []
    for ring in RINGS:
        members, factor = named(objects, "StatefulSet", ring)["spec"]["replicas"], replication_factor(objects, ring)
        if members < factor:
            failures.append(f"{ring}: {members} members cannot hold {factor} copies")
            continue
        for event, lost in members_lost(objects, ring).items():
            # No zone-aware replication: a series' copies may be any `factor` of the members.
            live = factor - min(factor, lost)
            if live < factor // 2 + 1:
                failures.append(f"{ring}: {event} leaves {live} of {factor} copies")
    return failures


@pytest.mark.parametrize("overlay", HA_OVERLAYS)
def test_every_ring_keeps_its_quorum_with_any_one_node_or_zone_down(overlay):
    objects = tree(overlay)
    replicated = {o["metadata"]["name"] for o in objects if o["kind"] == "StatefulSet"
                  and "monitoring.openemr.io/ring" in o["spec"]["template"]["metadata"]["labels"] and o["spec"]["replicas"] > 1}
    assert replicated == set(RINGS)  # a new replicated ring must join the model
    assert quorum_failures(objects) == []


def _mutated(objects, ring, **changes) -> list[dict]:
    objects = copy.deepcopy(objects)
    sts = named(objects, "StatefulSet", ring)
    if "members" in changes:
        sts["spec"]["replicas"] = changes["members"]
    if "factor" in changes:
        backend, path = RINGS[ring]
        config_map = named(objects, "ConfigMap", f"{backend}-config")
        config = yaml.safe_load(config_map["data"]["config.yaml"])
        node = config
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = changes["factor"]
        config_map["data"]["config.yaml"] = yaml.safe_dump(config)
    spec = sts["spec"]["template"]["spec"]
    if changes.get("soft_spread"):  # the spread every scaled-out pod had before: ScheduleAnyway, no anti-affinity
        spec.pop("affinity")
        for c in spec["topologySpreadConstraints"]:
            c["whenUnsatisfiable"] = "ScheduleAnyway"
    if changes.get("no_min_domains"):
        for c in spec["topologySpreadConstraints"]:
            c.pop("minDomains", None)
    if "pdb" in changes:
        named(objects, "PodDisruptionBudget", ring)["spec"]["maxUnavailable"] = changes["pdb"]
    return objects


@pytest.mark.parametrize("changes,expected", [
    # The hospital of the issue: two members, replication factor 2 (every push refused after one kill).
    ({"members": 2, "factor": 2}, "loki-write: node down leaves 1 of 2 copies"),
    ({"soft_spread": True}, "loki-write: node down leaves 0 of 3 copies"),
    ({"no_min_domains": True}, "loki-write: zone down leaves 0 of 3 copies"),
    ({"pdb": 2}, "loki-write: node drain leaves 1 of 3 copies"),
])
def test_the_model_fails_hospital_as_it_was(changes, expected):
    assert expected in quorum_failures(_mutated(tree("hospital"), "loki-write", **changes))


# What each upstream chart renders for the ring, for the pinned versions (README, Scaling decisions):
# Loki chart 18.11.0 (appVersion 3.7.6), tempo-distributed 2.26.2 (appVersion 2.10.7), mimir-distributed
# values (ingester, store_gateway). The Tempo chart's ingester PDB is replicas - (RF/2 + 1).
UPSTREAM = {
    "loki-write": {"grace": 300, "max_unavailable": 1},
    "loki-backend": {"grace": 300, "max_unavailable": 1},
    "tempo-ingester": {"grace": 300, "max_unavailable": "replicas - quorum"},
    "mimir-ingester": {"grace": 240, "max_unavailable": 1},
    "mimir-store-gateway": {"grace": 240, "max_unavailable": 1},
}


@pytest.mark.parametrize("overlay", HA_OVERLAYS)
@pytest.mark.parametrize("ring", sorted(UPSTREAM))
def test_disruption_settings_are_the_upstream_charts(overlay, ring):
    objects = tree(overlay)
    sts, pdb, expected = named(objects, "StatefulSet", ring), named(objects, "PodDisruptionBudget", ring), UPSTREAM[ring]
    factor = replication_factor(objects, ring)
    limit = expected["max_unavailable"]
    limit = sts["spec"]["replicas"] - (factor // 2 + 1) if limit == "replicas - quorum" else limit
    assert pdb["spec"]["maxUnavailable"] == limit
    assert sts["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == expected["grace"]
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    assert sts["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    # The next member is updated only once this one is Ready: /ready answers once it is back in the ring.
    [container] = sts["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready" and "livenessProbe" not in container


@pytest.mark.parametrize("overlay", HA_OVERLAYS)
def test_shutdown_flushes_or_keeps_the_ring_place_as_upstream(overlay):
    objects = tree(overlay)
    # Loki's chart sets loki.ingester.wal.flush_on_shutdown: true.
    assert config_of(objects, "loki")["ingester"]["wal"]["flush_on_shutdown"] is True
    # Tempo's chart keeps ingester.flush_all_on_shutdown false: the WAL on the member's volume is replayed.
    assert not config_of(objects, "tempo").get("ingester", {}).get("flush_all_on_shutdown", False)
    # mimir-distributed: ingesters and store-gateways keep their tokens on their volume and stay in the ring.
    mimir = config_of(objects, "mimir")
    for ring, section in (("mimir-ingester", mimir["ingester"]["ring"]),
                          ("mimir-store-gateway", mimir["store_gateway"]["sharding_ring"])):
        [container] = named(objects, "StatefulSet", ring)["spec"]["template"]["spec"]["containers"]
        data = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "data")
        assert section["unregister_on_shutdown"] is False and section["tokens_file_path"].startswith(data + "/")


@pytest.mark.parametrize("overlay", ("hospital", "large"))
def test_no_single_door(overlay):
    objects = tree(overlay)
    minimums = {h["spec"]["scaleTargetRef"]["name"]: h["spec"]["minReplicas"]
                for h in objects if h["kind"] == "HorizontalPodAutoscaler"}
    doors = ["loki-read", "tempo-distributor", "tempo-query-frontend", "mimir-distributor", "mimir-query-frontend"]
    assert {door: minimums.get(door) for door in doors if (minimums.get(door) or 0) < 2} == {}
    assert named(objects, "Deployment", "mimir-query-scheduler")["spec"]["replicas"] >= 2
    # Loki's push door is the write Service over the ring's three members (there is no gateway).
    assert named(objects, "StatefulSet", "loki-write")["spec"]["replicas"] >= 3


@pytest.mark.parametrize("overlay", ("clinic", *HA_OVERLAYS))
def test_grafana_stays_on_one_prometheus_replica(overlay):
    objects = tree(overlay)
    datasources = yaml.safe_load(named(objects, "ConfigMap", "grafana-datasources")["data"]["datasources.yaml"])
    url = next(d["url"] for d in datasources["datasources"] if d["uid"] == "prometheus")
    service = named(objects, "Service", url.split("//")[1].split(".")[0])
    assert service["spec"]["sessionAffinity"] == "ClientIP"


@pytest.fixture()
def overlays(tmp_path):
    directory = tmp_path / "overlays"
    directory.mkdir()
    for size in ("clinic", "hospital"):
        (directory / f"{size}.yaml").write_text((ROOT / "overlays" / f"{size}.yaml").read_text())
    return directory


def load(directory, content):
    (directory / "prod.yaml").write_text(content)
    return load_overlay(directory / "prod.yaml", source="overlays/prod.yaml").config


@pytest.mark.parametrize("content,expected", [
    ("base: hospital\nloki: {replication_factor: 2}\n",
     "loki.replication_factor=2 with 3 ingesting member(s) (write_replicas) loses its write quorum (2 of 2 copies)"),
    ("base: hospital\ntempo: {ingester_replicas: 2, replication_factor: 2}\n",
     "tempo.replication_factor=2 with 2 ingester member(s) (ingester_replicas) loses its write quorum"),
    # Four members over three zones: one zone holds two, which may be two of a series' three copies.
    ("base: hospital\nmimir: {ingester_replicas: 4}\n",
     "mimir.replication_factor=3 with 4 ingester member(s) (ingester_replicas) loses its write quorum"),
    ("base: hospital\nloki: {backend_replicas: 2}\n", "loki.replication_factor=3 must be <= the 2 backend replica(s)"),
    ("base: hospital\nbudget: {nodes: 2}\n",
     "budget.nodes=2 must be >= 3 while loki.topology is simple-scalable"),
])
def test_a_quorum_one_member_down_breaks_is_refused_where_ha_is_claimed(overlays, content, expected):
    with pytest.raises(ConfigError) as error:
        load(overlays, content)
    assert expected in str(error.value)


def test_single_process_and_wider_rings_are_accepted(overlays):
    assert load(overlays, "base: clinic\n").loki.replication_factor == 1  # one process claims no HA
    wide = load(overlays, "base: hospital\nmimir: {ingester_replicas: 5, store_gateway_replicas: 5, replication_factor: 5}\n")
    assert wide.mimir.replication_factor == 5  # a zone takes 2 of 5 copies: 3 remain, the quorum
