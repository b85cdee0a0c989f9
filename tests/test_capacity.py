"""dist/<overlay>/CAPACITY.md: its numbers are a recomputation from dist/, priced by the stated model: whole
nodes of what EKS Auto Mode launches, from the dated on-demand table in the repository."""
from __future__ import annotations

import datetime
import json
import re

import pytest
import yaml
from conftest import DIST, OVERLAYS, ROOT, clean_env, overlay_config, run_main, size_of
from stackgen import budget, render
from stackgen.components.platform import instance_prices, instance_types
from stackgen.config import ConfigError, LoadedConfig
from stackgen.validate import load_tree, stage_objects

PRICE_TABLE = ROOT / "constructs" / "stackgen" / "catalog" / "ec2-on-demand-us-east-1.yaml"
# The seed's pricing facts (CONTEXT.md) and node types of the overlays: the comparison only.
SEED_NODE = {"clinic": (2, 2, 0.0208), "hospital": (2, 4, 0.0416), "large": (2, 8, 0.0832)}
HOURS, SEED_FEE, GP3 = 730, 0.12, 0.08
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


def node_rows(text) -> dict[str, tuple[int, str, str]]:
    """scale -> (nodes, shape, instance type) from the report's Nodes table."""
    return {scale: (int(row[1]), row[2], row[3]) for scale in ("minimum", "maximum") for row in [table_row(text, scale)]}


def pool_admits(overlay) -> tuple[set[str], int, int]:
    """(categories, min vCPU, max vCPU) of the rendered NodePool, or of Auto Mode's built-in general-purpose pool
    (on-demand amd64 C, M, R of generation 5+; the table's sizes) where the overlay renders none."""
    pools = [o for o in stage_objects(DIST / overlay / "platform") if o["kind"] == "NodePool"]
    if not pools:
        return {"c", "m", "r"}, 2, 16
    requirements = {(r["key"], r["operator"]): r["values"] for r in pools[0]["spec"]["template"]["spec"]["requirements"]}
    assert requirements[("eks.amazonaws.com/instance-generation", "Gt")] == ["4"]
    assert requirements[("kubernetes.io/arch", "In")] == ["amd64"]
    assert requirements[("karpenter.sh/capacity-type", "In")] == ["on-demand"]
    return (set(requirements[("eks.amazonaws.com/instance-category", "In")]),
            int(requirements[("eks.amazonaws.com/instance-cpu", "Gt")][0]) + 1,
            int(requirements[("eks.amazonaws.com/instance-cpu", "Lt")][0]) - 1)


def cheapest_rows(table: dict, categories: set[str]) -> dict[str, dict]:
    """Shape (category.size) -> the cheapest row of the table the pool may launch, read from the rows alone."""
    found: dict[str, dict] = {}
    for row in table["prices"]:
        family, size = row["type"].split(".")
        category, generation = re.match(r"([a-z]+)([0-9]+)", family).groups()
        shape = f"{category}.{size}"
        admitted = category in categories and int(generation) > 4 and "g" not in family[len(category) + 1:]
        if admitted and (shape not in found or row["usd_per_hour"] < found[shape]["usd_per_hour"]):
            found[shape] = row
    return found


@pytest.mark.parametrize("overlay_name", OVERLAYS)
def test_the_estimate_follows_the_price_table(overlay_name):
    text, table = report(overlay_name), yaml.safe_load(PRICE_TABLE.read_text())
    fee = table["auto_mode_fee"]["fraction_of_on_demand"]
    categories, min_cpu, max_cpu = pool_admits(overlay_name)
    cheapest = cheapest_rows(table, categories)
    rows = node_rows(text)
    (nodes_min, shape, priced_as), (nodes_max, shape_max, _) = rows["minimum"], rows["maximum"]
    assert shape_max == shape and nodes_min == stated_nodes(text) and nodes_max >= nodes_min
    row = cheapest[shape]
    assert priced_as == row["type"] and row["region"] == "us-east-1"
    compute = nodes_min * row["usd_per_hour"] * (1 + fee) * HOURS
    assert float(table_row(text, "minimum")[6].lstrip("$")) == pytest.approx(compute, abs=0.01)
    block = float(table_row(text, "gp3-monitoring-encrypted")[1]) * GP3
    s3 = sum(float(table_row(text, bucket)[3]) for bucket in
             re.findall(r"^\| (openemr-monitoring-[a-z-]+) \|", text, re.M)) * 0.023
    estimate = float(re.search(r"Monthly estimate: \$([0-9.]+) at minimum", text).group(1))
    assert estimate == pytest.approx(compute + block + s3, abs=0.02)
    # No cheaper size the pool admits holds the pods on the budget's nodes with the agents beside them.
    objects = [o for o in load_tree(DIST / overlay_name) if o.get("metadata", {}).get("namespace")
               in ("monitoring", "monitoring-agents")]
    workloads = budget.workloads(objects, nodes=1)
    agents = sum((w.requests for w in workloads if w.kind == "DaemonSet"), budget.NOTHING)
    pods = [w for w in workloads if w.kind != "DaemonSet"]
    total = sum((w.requests * w.pods_min for w in pods), budget.NOTHING)

    def holds(candidate: instance_types.Shape) -> bool:
        cpu, mem = candidate.allocatable_millicores, candidate.allocatable_memory_mib * 2**20
        room_cpu, room_mem = cpu - agents.cpu_millicores, mem - agents.memory_bytes
        return all(w.requests.cpu_millicores <= room_cpu and w.requests.memory_bytes <= room_mem for w in pods) \
            and nodes_min * room_cpu >= total.cpu_millicores and nodes_min * room_mem >= total.memory_bytes

    sizes = {s.name: s for s in instance_types.SHAPES if s.category in categories and min_cpu <= s.cpu <= max_cpu}
    assert holds(sizes[shape])
    assert not [name for name, candidate in sizes.items()
                if cheapest[name]["usd_per_hour"] < row["usd_per_hour"] and holds(candidate)]


@pytest.mark.parametrize("overlay_name", OVERLAYS)
def test_the_seed_t3_figures_stay_as_the_comparison(overlay_name):
    text = report(overlay_name)
    vcpu, memory, rate = SEED_NODE[size_of(overlay_name)]
    low_cpu, low_mem = (float(x) for x in table_row(text, "**total**")[2].split(" / "))
    seed = max(low_cpu / vcpu, low_mem / memory) * rate * HOURS * (1 + SEED_FEE)
    stated = float(re.search(r"\(1 \+ 12%\): \$([0-9.]+) at minimum scale", text).group(1))
    assert stated == pytest.approx(seed, rel=0.005)  # from the report's rounded totals
    assert "t3" not in table_row(text, "compute")[3]


def mutated_table(tmp_path, change) -> instance_prices.PriceTable:
    data = yaml.safe_load(PRICE_TABLE.read_text())
    change(data)
    path = tmp_path / PRICE_TABLE.name
    path.write_text(yaml.safe_dump(data))
    return instance_prices.load(path)


def test_the_committed_table_loads_and_prices_what_the_reports_name():
    table = instance_prices.load()
    named = {node_rows(report(overlay))["minimum"][2] for overlay in OVERLAYS}
    assert named <= {p.instance_type for p in table.prices}


def test_a_table_lacking_the_chosen_type_stops_synthesis(tmp_path):
    chosen = node_rows(report("hospital"))["minimum"][2]
    with pytest.raises(ConfigError) as error:
        mutated_table(tmp_path, lambda d: d.update(prices=[r for r in d["prices"] if r["type"] != chosen]))
    assert f"{PRICE_TABLE.name}: prices: no row for {chosen}" in str(error.value)


def test_a_stale_or_undated_table_stops_synthesis(tmp_path):
    def stale(data):
        data["prices"][0]["date"] = "2019-01-01"
        del data["prices"][1]["date"]

    with pytest.raises(ConfigError) as error:
        mutated_table(tmp_path, stale)
    first, second = (yaml.safe_load(PRICE_TABLE.read_text())["prices"][i]["type"] for i in (0, 1))
    message = str(error.value)
    assert f"{PRICE_TABLE.name}: prices[0] ({first}): date=2019-01-01 is older than 365 days" in message
    assert f"{PRICE_TABLE.name}: prices[1] ({second}): date missing" in message
    # The committed table's own rows turn stale a year after they were read.
    rows = yaml.safe_load(PRICE_TABLE.read_text())["prices"]
    newest = max(datetime.date.fromisoformat(r["date"]) for r in rows)
    with pytest.raises(ConfigError, match="older than 365 days"):
        instance_prices.load(today=newest + datetime.timedelta(days=366))


def test_synthesis_prices_with_the_committed_table(tmp_path, monkeypatch):
    """render -> capacity.report reads the table: a broken table stops it, with the file named."""
    broken = tmp_path / PRICE_TABLE.name
    broken.write_text(PRICE_TABLE.read_text().replace("region: us-east-1\n", "region: eu-west-1\n", 1))
    monkeypatch.setattr(instance_prices, "PRICE_TABLE", broken)
    with pytest.raises(ConfigError, match=f"{PRICE_TABLE.name}: region='eu-west-1'; this table prices us-east-1"):
        render.render_overlay(LoadedConfig("clinic", "overlays/clinic.yaml", overlay_config("clinic")))


def test_committed_reports_equal_a_fresh_render(fresh_dist):
    for overlay in OVERLAYS:
        assert (fresh_dist / overlay / "CAPACITY.md").read_text() == report(overlay), overlay


def test_reports_are_not_applied():
    for overlay in OVERLAYS:
        kustomization = yaml.safe_load((DIST / overlay / "kustomization.yaml").read_text())
        assert "CAPACITY.md" not in kustomization["resources"]


def test_diff_shows_the_cost_delta_of_a_change():
    # Prometheus scaled up to 3: at maximum scale the pods need a fourth node (whole nodes are priced).
    result = run_main("diff", "--json", env=clean_env(PROMETHEUS_MAX_REPLICAS="3"))
    assert result.returncode == 1, result.stderr
    costs = {o["overlay"]: o.get("cost") for o in json.loads(result.stdout)}
    for overlay in ("hospital", "large"):
        cost = costs[overlay]
        assert cost["max_after"] > cost["max_before"] and cost["min_after"] == cost["min_before"]


def test_readme_sizes_state_what_the_reports_price():
    readme = (ROOT / "README.md").read_text()
    sizes = readme[readme.index("### Sizes"):readme.index("## Elasticsearch and Kibana on ECK")]
    for overlay in OVERLAYS:
        nodes, shape, priced_as = node_rows(report(overlay))["minimum"]
        total = table_row(report(overlay), "minimum")[6]
        row = table_row(sizes, overlay)
        assert row[2].startswith(f"{nodes} x {shape} ({priced_as} $"), (overlay, row[2])
        assert row[5].startswith(f"{total} ("), (overlay, row[5])
