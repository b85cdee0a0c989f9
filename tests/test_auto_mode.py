"""EKS Auto Mode as it is: the resolver pods really use, the stack's own NodeClass and NodePool, where its
pods run, NetworkPolicy enforcement, and the node agents under SELinux."""
from __future__ import annotations

import copy

import pytest
import test_namespaces as namespace_flows
import test_stack as stack_flows
import yaml
from conftest import DIST, OVERLAYS, overlay_config
from stackgen import budget, render
from stackgen.components.cluster import dns_addresses
from stackgen.components.platform import instance_types, nodes
from stackgen.config import ConfigError, LoadedConfig, load_overlay
from stackgen.flows import Address, dns_flows, dns_peers, flow_allowed
from stackgen.manifests import Manifests
from stackgen.names import HOST_ACCESS_ANNOTATION
from stackgen.validate import load_tree, schema_problems, stage_objects

DEDICATED = ("hospital", "hospital-elk", "large")
AGENTS = {"node-exporter", "otebpf", "fluent-bit"}


def configured(overlay: str, section: str, **values):
    config = overlay_config(overlay)
    return config.model_copy(update={section: getattr(config, section).model_copy(update=values)})


def render_with(overlay: str, section: str, **values) -> list[dict]:
    loaded = LoadedConfig(overlay, f"overlays/{overlay}.yaml", configured(overlay, section, **values))
    return render.render_overlay(loaded).manifests


@pytest.fixture(scope="module")
def kube_dns_renders() -> dict[str, Manifests]:
    return {overlay: Manifests(render_with(overlay, "network", dns="kube-dns")) for overlay in ("clinic", "hospital-elk")}


def case(overlay: str, mode: str, kube_dns_renders) -> tuple[Manifests, object]:
    if mode == "node-local":
        return Manifests(load_tree(DIST / overlay)), overlay_config(overlay).network
    return kube_dns_renders[overlay], configured(overlay, "network", dns="kube-dns").network


@pytest.mark.parametrize("overlay,mode", [(o, "node-local") for o in OVERLAYS] +
                         [("clinic", "kube-dns"), ("hospital-elk", "kube-dns")])
def test_every_pod_resolves_through_its_real_resolver_and_nowhere_else(overlay, mode, kube_dns_renders):
    m, network = case(overlay, mode, kube_dns_renders)
    flows = dns_flows(m, network)
    assert {pod.namespace for pod, *_ in flows} >= {"monitoring", "monitoring-agents"}
    assert [f"{pod.owner} -> {peer} {port}/{protocol}" for pod, peer, port, protocol in flows
            if not flow_allowed(m, pod, peer, port, protocol)] == []
    # Nothing else answers on 53: the other mode's resolver, a neighbour of the DNS address, the internet.
    other_mode = configured(overlay, "network", dns="kube-dns" if mode == "node-local" else "node-local").network
    elsewhere = [*dns_peers(other_mode), Address("172.20.0.11"), Address("10.100.0.53"), Address("8.8.8.8")]
    resolvers = dns_peers(network)
    isolated = {p.owner: p for p, *_ in flows if p.namespace in ("monitoring", "monitoring-agents")}
    for pod in isolated.values():
        assert not any(flow_allowed(m, pod, other, 53, "UDP") for other in elsewhere), pod.owner
        assert not any(flow_allowed(m, pod, resolver, 80) for resolver in resolvers), pod.owner


@pytest.mark.parametrize("overlay", ("clinic", "hospital-elk"))
def test_with_kube_dns_every_other_required_flow_holds_and_no_forbidden_one(overlay, kube_dns_renders):
    """The rest of the evaluator's flow lists (test_stack, test_namespaces) in the other DNS mode."""
    m = kube_dns_renders[overlay]
    for source, destination, port in stack_flows.REQUIRED_FLOWS + namespace_flows.REQUIRED:
        assert flow_allowed(m, namespace_flows.endpoint(m, source), namespace_flows.endpoint(m, destination), port)
    for source, destination, port in stack_flows.FORBIDDEN_FLOWS + namespace_flows.FORBIDDEN:
        assert not flow_allowed(m, namespace_flows.endpoint(m, source), namespace_flows.endpoint(m, destination), port)


def test_node_local_dns_is_the_service_cidrs_tenth_address():
    assert dns_addresses(overlay_config("clinic").network) == ["10.100.0.10", "172.20.0.10"]  # EKS's two defaults
    m = Manifests(render_with("clinic", "network", service_cidr="10.100.0.0/16"))
    grafana = next(p for p in m.pods() if p.labels["app.kubernetes.io/name"] == "grafana")
    assert flow_allowed(m, grafana, Address("10.100.0.10"), 53, "UDP")
    assert not flow_allowed(m, grafana, Address("172.20.0.10"), 53, "UDP")


def test_a_service_cidr_that_is_not_one_stops_synthesis(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("network: {service_cidr: 172.20.0.0/30}\n")
    with pytest.raises(ConfigError, match=r"network.service_cidr=172.20.0.0/30 must hold the cluster DNS address \(its .10\)"):
        load_overlay(path, {})


def platform(overlay: str) -> list[dict]:
    return stage_objects(DIST / overlay / "platform")


def one(objects: list[dict], kind: str) -> dict:
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, kind
    return found[0]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_dedicated_overlays_render_a_valid_node_class_and_pool(overlay):
    objects = platform(overlay)
    if overlay not in DEDICATED:  # clinic: the built-in general-purpose pool
        assert not [o for o in objects if o["kind"] in ("NodePool", "NodeClass")]
        return
    pool, node_class = one(objects, "NodePool"), one(objects, "NodeClass")
    assert schema_problems(pool, ()) == [] and schema_problems(node_class, ()) == []
    template = pool["spec"]["template"]["spec"]
    assert template["nodeClassRef"] == {"group": "eks.amazonaws.com", "kind": "NodeClass",
                                        "name": node_class["metadata"]["name"]}
    assert nodes.hours(template["expireAfter"]) + nodes.hours(template["terminationGracePeriod"]) <= 21 * 24
    assert pool["spec"]["disruption"] == {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "10m",
                                          "budgets": [{"nodes": "1"}]}
    assert node_class["spec"]["networkPolicy"] in ("DefaultAllow", "DefaultDeny")
    assert node_class["spec"]["networkPolicyEventLogs"] in ("Enabled", "Disabled")
    assert {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "name": pool["metadata"]["name"]} in \
        next(s for s in _flux(overlay) if s["spec"]["path"].endswith("/platform"))["spec"]["healthChecks"]


def _flux(overlay: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((DIST / "flux" / f"{overlay}.yaml").read_text()) if d]


@pytest.mark.parametrize("path,value,expected", [
    (("spec", "amiFamily"), "Bottlerocket", "Additional properties are not allowed"),
    (("spec", "ephemeralStorage", "iops"), 20000, "20000 is greater than the maximum of 16000"),
    (("spec", "ephemeralStorage", "size"), "60000Gi", "above 59000Gi"),
    (("spec", "networkPolicy"), "Deny", "is not one of"),
    (("spec", "tags"), {"karpenter.sh/nodepool": "x"}, "a restricted tag"),
    (("metadata", "name"), "default", "built-in NodeClass"),
])
def test_the_documented_node_class_fields_catch_each_mistake(path, value, expected):
    node_class = copy.deepcopy(one(platform("hospital"), "NodeClass"))
    *parents, leaf = path
    target = node_class
    for key in parents:
        target = target[key]
    target[leaf] = value
    assert any(expected in problem for problem in schema_problems(node_class, ())), schema_problems(node_class, ())


def test_the_node_pool_is_held_to_karpenters_crd():
    pool = copy.deepcopy(one(platform("hospital"), "NodePool"))
    pool["spec"]["template"]["spec"]["expireAfter"] = "21d"  # no days in Karpenter's durations
    pool["spec"]["disruption"]["consolidationPolicy"] = "Sometimes"
    problems = schema_problems(pool, ())
    assert any("expireAfter" in p for p in problems) and any("consolidationPolicy" in p for p in problems)


def test_a_lifetime_beyond_auto_modes_21_days_stops_synthesis(tmp_path):
    path = tmp_path / "long.yaml"
    path.write_text("nodes: {pool: dedicated, expire_after: 490h}\n")
    with pytest.raises(ConfigError, match="nodes.expire_after=490h plus termination_grace_period=24h must not exceed 21 days"):
        load_overlay(path, {})


def stack_specs(objects: list[dict]) -> dict[str, dict]:
    """Each pod-running object of the stack's namespace -> the pod spec it gives its pods."""
    specs = {}
    for o in objects:
        if o.get("metadata", {}).get("namespace") != "monitoring":
            continue
        if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            specs[f"{o['kind']}/{o['metadata']['name']}"] = o["spec"]["template"]["spec"]
        elif o["kind"] in ("Prometheus", "Alertmanager"):
            specs[f"{o['kind']}/{o['metadata']['name']}"] = o["spec"]
        elif o["kind"] == "Elasticsearch":
            specs.update({f"Elasticsearch/{s['name']}": s["podTemplate"]["spec"] for s in o["spec"]["nodeSets"]})
        elif o["kind"] == "Kibana":
            specs[f"Kibana/{o['metadata']['name']}"] = o["spec"]["podTemplate"]["spec"]
    return specs


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_stacks_pods_run_on_its_pool_and_the_agents_on_every_node(overlay):
    objects = load_tree(DIST / overlay)
    specs = stack_specs(objects)
    assert any(name.startswith("Prometheus/") for name in specs) and any(name.startswith("StatefulSet/") for name in specs) \
        or overlay == "clinic"
    if overlay in DEDICATED:
        template = one(platform(overlay), "NodePool")["spec"]["template"]
        taint = template["spec"]["taints"][0]
        for name, spec in specs.items():
            assert spec.get("nodeSelector") == template["metadata"]["labels"], name
            assert spec.get("tolerations") == [{**taint, "operator": "Equal"}], name
    else:
        assert all("nodeSelector" not in spec and "tolerations" not in spec for spec in specs.values())
    agents = [o for o in objects if o["kind"] == "DaemonSet"]
    assert {a["metadata"]["name"] for a in agents} == AGENTS
    for agent in agents:
        spec = agent["spec"]["template"]["spec"]
        assert spec["tolerations"] == [{"operator": "Exists"}] and "nodeSelector" not in spec


def pool_shapes(pool: dict) -> tuple[list[instance_types.Shape], list[str]]:
    """The instance shapes and zones a rendered NodePool admits, read from its requirements."""
    requirements = pool["spec"]["template"]["spec"]["requirements"]

    def values(key: str, operator: str) -> list[str]:
        return next(r["values"] for r in requirements if r["key"] == key and r["operator"] == operator)
    cpu_above, cpu_below = int(values("eks.amazonaws.com/instance-cpu", "Gt")[0]), \
        int(values("eks.amazonaws.com/instance-cpu", "Lt")[0])
    assert values("eks.amazonaws.com/instance-generation", "Gt") == ["4"]
    shapes = instance_types.admitted(values("eks.amazonaws.com/instance-category", "In"), cpu_above + 1, cpu_below - 1)
    return shapes, values("topology.kubernetes.io/zone", "In")


def place(workloads: list[budget.Workload], shape: instance_types.Shape, zones: list[str]) -> dict[str, set[str]]:
    """First-fit on nodes of one shape, each with one pod of every DaemonSet; the members of a workload go
    round-robin over the zones (what the pods' zone spread asks). Returns each workload's zones."""
    room = nodes.allocatable(shape)
    agents = sum((w.requests for w in workloads if w.kind == "DaemonSet"), budget.NOTHING)
    opened: list[tuple[str, budget.Requests]] = []  # (zone, requests placed so far)
    spread: dict[str, set[str]] = {}
    for w in sorted((w for w in workloads if w.kind != "DaemonSet"), key=lambda w: -w.requests.memory_bytes):
        for member in range(w.pods_max):
            zone = zones[member % len(zones)]
            need = w.requests
            index = next((i for i, (z, used) in enumerate(opened) if z == zone and nodes.fits(used + need, shape)), None)
            if index is None:
                assert nodes.fits(agents + need, shape), f"{w.kind}/{w.name} does not fit {shape.name}: {room}"
                opened.append((zone, agents))
                index = len(opened) - 1
            opened[index] = (zone, opened[index][1] + need)
            spread.setdefault(f"{w.kind}/{w.name}", set()).add(zone)
    return spread


@pytest.mark.parametrize("overlay", DEDICATED)
def test_each_rings_pods_fit_the_pools_instances_in_three_zones(overlay):
    shapes, zones = pool_shapes(one(platform(overlay), "NodePool"))
    assert len(zones) == 3 and len(set(zones)) == 3
    objects = [o for o in load_tree(DIST / overlay) if o.get("metadata", {}).get("namespace") in ("monitoring", "monitoring-agents")]
    workloads = budget.workloads(objects, nodes=1)
    rings = [w for w in workloads if w.kind in ("StatefulSet", "Prometheus", "Alertmanager", "Elasticsearch") and w.pods_max > 1]
    assert rings
    for shape in (shapes[0], shapes[-1]):  # the smallest (c.large) and the largest instance it may launch
        spread = place(workloads, shape, zones)
        for ring in rings:
            assert len(spread[f"{ring.kind}/{ring.name}"]) == min(ring.pods_max, 3), ring.name


def test_synthesis_refuses_a_pod_the_pools_smallest_instance_cannot_hold():
    stack = overlay_config("hospital")
    objects = copy.deepcopy([o for o in load_tree(DIST / "hospital")
                             if o.get("metadata", {}).get("namespace") in ("monitoring", "monitoring-agents")])
    assert nodes.fit_problems(stack, objects) == []
    grafana = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "grafana")
    grafana["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["memory"] = "3Gi"  # + the agents' > c.large's 3114Mi
    problems = nodes.fit_problems(stack, objects)
    assert len(problems) == 1 and problems[0].startswith("Deployment/grafana: requests") and "c.large" in problems[0] \
        and "nodes.min_cpu" in problems[0]
    bigger = stack.model_copy(update={"nodes": stack.nodes.model_copy(update={"min_cpu": 4})})
    assert nodes.fit_problems(bigger, objects) == []


def test_the_vpc_cni_config_map_is_rendered_only_when_the_overlay_manages_it():
    assert all(not [o for o in platform(overlay) if o["kind"] == "ConfigMap"] for overlay in OVERLAYS)
    managed = [o for o in render_with("clinic", "network", policy_controller="manage")
               if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "amazon-vpc-cni"]
    assert len(managed) == 1
    config_map = managed[0]
    assert config_map["metadata"]["namespace"] == "kube-system"
    assert config_map["data"] == {"enable-network-policy-controller": "true"}
    # Flux never deletes it: dropping the option must not switch isolation off for the whole cluster.
    assert config_map["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/prune"] == "disabled"
    assert schema_problems(config_map, ("1.29.0",)) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_agent_says_how_it_runs_under_selinux_and_sets_no_label(overlay):
    pods = [p for p in Manifests(load_tree(DIST / overlay)).pods() if p.labels["app.kubernetes.io/name"] in AGENTS]
    assert {p.labels["app.kubernetes.io/name"] for p in pods} == AGENTS
    for pod in pods:
        assert "SELinux: the runtime's default container_t" in pod.annotations[HOST_ACCESS_ANNOTATION]
        contexts = [pod.spec.get("securityContext", {})] + [c.get("securityContext", {}) for c in pod.spec["containers"]]
        assert not any("seLinuxOptions" in context for context in contexts)
