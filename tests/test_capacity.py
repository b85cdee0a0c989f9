"""dist/<overlay>/CAPACITY.md: its numbers are a recomputation from dist/, priced by the stated model."""
from __future__ import annotations

import json
import re

import pytest
import yaml
from conftest import DIST, OVERLAYS, clean_env, run_main, size_of
from stackgen.validate import load_tree

# The seed's pricing facts (CONTEXT.md) and node types of the overlays.
NODE = {"clinic": (2, 2, 0.0208), "hospital": (2, 4, 0.0416), "large": (2, 8, 0.0832)}
HOURS, FEE, GP3 = 730, 0.12, 0.08
UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def cpu(value) -> float:
    value = str(value)
    return int(value[:-1]) / 1000 if value.endswith("m") else float(value)


def gib(value) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)(Ki|Mi|Gi)", value).groups()
    return float(number) * UNITS[unit] / 2**30


def report(overlay):
    return (DIST / overlay / "CAPACITY.md").read_text()


def table_row(text, first_cell):
    row = next(line for line in text.splitlines() if line.startswith(f"| {first_cell} |"))
    return [cell.strip() for cell in row.strip("|").split("|")]


def stated_nodes(text) -> int:
    """The model's input: the nodes the budget holds (the seed's 2, or `logs.budget.nodes`)."""
    return int(re.search(r"DaemonSets count once per node of the budget \((\d+)\)", text).group(1))


def eck_pods(o):
    """ECK's pods: a nodeSet's `count` (Elasticsearch), the resource's `count` (Kibana), main container."""
    sets = o["spec"]["nodeSets"] if o["kind"] == "Elasticsearch" else [o["spec"]]
    for node_set in sets:
        [container] = [c for c in node_set["podTemplate"]["spec"]["containers"] if c["name"] == o["kind"].lower()]
        yield node_set.get("count", 1), container["resources"]["requests"]


def minimum_requests(objects, nodes=2):
    """Independently of the generator: pods at their minimum, each container's requests."""
    hpa_min = {(o["spec"]["scaleTargetRef"]["kind"], o["spec"]["scaleTargetRef"]["name"]): o["spec"]["minReplicas"]
               for o in objects if o["kind"] == "HorizontalPodAutoscaler"}
    operator = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "prometheus-operator")
    flags = dict(a.split("=", 1) for a in operator["spec"]["template"]["spec"]["containers"][0]["args"] if "=" in a)
    reloader = (cpu(flags["--config-reloader-cpu-request"]), gib(flags["--config-reloader-memory-request"]))
    total_cpu = total_mem = 0.0
    for o in objects:
        key = (o["kind"], o["metadata"]["name"])
        if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            pods = nodes if o["kind"] == "DaemonSet" else hpa_min.get(key, o["spec"].get("replicas", 1))
            for c in o["spec"]["template"]["spec"]["containers"]:
                total_cpu += cpu(c["resources"]["requests"]["cpu"]) * pods
                total_mem += gib(c["resources"]["requests"]["memory"]) * pods
        elif o["kind"] in ("Prometheus", "Alertmanager"):
            pods = (o["spec"].get("replicas", 1) * o["spec"].get("shards", 1) if o["kind"] == "Prometheus"
                    else hpa_min.get(key, o["spec"].get("replicas", 1)))
            total_cpu += (cpu(o["spec"]["resources"]["requests"]["cpu"]) + reloader[0]) * pods
            total_mem += (gib(o["spec"]["resources"]["requests"]["memory"]) + reloader[1]) * pods
        elif o["kind"] in ("Elasticsearch", "Kibana"):
            for pods, requests in eck_pods(o):
                total_cpu += cpu(requests["cpu"]) * pods
                total_mem += gib(requests["memory"]) * pods
    return total_cpu, total_mem


def volume_gib(objects):
    total = 0.0
    for o in objects:
        if o["kind"] == "StatefulSet":
            total += sum(gib(t["spec"]["resources"]["requests"]["storage"]) for t in o["spec"].get("volumeClaimTemplates", [])) \
                * o["spec"]["replicas"]
        elif o["kind"] == "Elasticsearch":
            total += sum(gib(t["spec"]["resources"]["requests"]["storage"]) * n.get("count", 1)
                         for n in o["spec"]["nodeSets"] for t in n.get("volumeClaimTemplates", []))
        elif o["kind"] == "PersistentVolumeClaim":
            total += gib(o["spec"]["resources"]["requests"]["storage"])
        elif o["kind"] in ("Prometheus", "Alertmanager"):
            pods = o["spec"].get("replicas", 1) * (o["spec"].get("shards", 1) if o["kind"] == "Prometheus" else 1)
            if o["kind"] == "Alertmanager":
                pods = next((h["spec"]["minReplicas"] for h in objects if h["kind"] == "HorizontalPodAutoscaler"
                             and h["spec"]["scaleTargetRef"]["kind"] == "Alertmanager"), pods)
            total += gib(o["spec"]["storage"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"]) * pods
    return total


@pytest.mark.parametrize("overlay_name", OVERLAYS)
def test_capacity_report_equals_a_recomputation_from_dist(overlay_name):
    objects, text = load_tree(DIST / overlay_name), report(overlay_name)
    total_cpu, total_mem = minimum_requests(objects, stated_nodes(text))
    reported_cpu, reported_mem = (float(x) for x in table_row(text, "**total**")[2].split(" / "))
    assert reported_cpu == pytest.approx(total_cpu, abs=0.006) and reported_mem == pytest.approx(total_mem, abs=0.006)
    assert float(table_row(text, "gp3-monitoring-encrypted")[1]) == pytest.approx(volume_gib(objects), abs=0.5)


@pytest.mark.parametrize("overlay_name", OVERLAYS)
def test_the_estimate_follows_the_stated_model(overlay_name):
    text = report(overlay_name)
    vcpu, memory, rate = NODE[size_of(overlay_name)]
    low_cpu, low_mem = (float(x) for x in table_row(text, "**total**")[2].split(" / "))
    compute = max(low_cpu / vcpu, low_mem / memory) * rate * HOURS * (1 + FEE)
    block = float(table_row(text, "gp3-monitoring-encrypted")[1]) * GP3
    s3 = sum(float(table_row(text, bucket)[3]) for bucket in
             re.findall(r"^\| (openemr-monitoring-[a-z-]+) \|", text, re.M)) * 0.023
    estimate = float(re.search(r"Monthly estimate: \$([0-9.]+) at minimum", text).group(1))
    assert estimate == pytest.approx(compute + block + s3, rel=0.01)


def test_reports_are_not_applied():
    for overlay in OVERLAYS:
        kustomization = yaml.safe_load((DIST / overlay / "kustomization.yaml").read_text())
        assert "CAPACITY.md" not in kustomization["resources"]


def test_diff_shows_the_cost_delta_of_a_change():
    result = run_main("diff", "--json", env=clean_env(ALERTMANAGER_MAX_REPLICAS="6"))
    assert result.returncode == 1, result.stderr
    costs = {o["overlay"]: o.get("cost") for o in json.loads(result.stdout)}
    for overlay in ("hospital", "large"):
        cost = costs[overlay]
        assert cost["max_after"] > cost["max_before"] and cost["min_after"] == cost["min_before"]
