"""Two namespaces: the stack under Pod Security `restricted`, the node agents apart, every flow across
them explicit; the restricted-profile check of our own, including the operator's pods."""
from __future__ import annotations

import copy

import pytest
import yaml
from conftest import DIST, OVERLAYS, overlay_config
from stackgen import render
from stackgen.checks.pod_security import check_pod_security_admission, operator_pod_spec, restricted_violations
from stackgen.config import ConfigError, LoadedConfig, StackConfig
from stackgen.flows import Address, dns_peers, flow_allowed
from stackgen.manifests import Pod
from stackgen.validate import load_tree

STACK, AGENTS = "monitoring", "monitoring-agents"


def pod(manifests, name):
    return next(p for p in manifests.pods() if p.labels.get("app.kubernetes.io/name") == name)


def push(manifests, backend):
    names = {p.labels["app.kubernetes.io/name"] for p in manifests.pods()}
    return pod(manifests, f"{backend}-write" if f"{backend}-write" in names else
               f"{backend}-distributor" if f"{backend}-distributor" in names else backend)


def test_agents_run_apart_and_everything_else_in_the_stacks_namespace(manifests):
    placement = {p.labels["app.kubernetes.io/name"]: p.namespace for p in manifests.pods()}
    assert {name for name, namespace in placement.items() if namespace == AGENTS} == \
        {"node-exporter", "otebpf", "fluent-bit"}
    assert set(placement.values()) == {STACK, AGENTS}


def test_every_pod_of_the_stack_passes_restricted_operator_pods_included(manifests):
    assert check_pod_security_admission(manifests) == []
    owners = {p.owner.split("/")[0] for p in manifests.pods() if p.namespace == STACK}
    assert {"Prometheus", "Alertmanager", "Deployment", "StatefulSet"} <= owners


def test_restricted_check_catches_each_rule(objects):
    grafana = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "grafana")
    mutations = {
        "hostPath": lambda s: s["volumes"].append({"name": "h", "hostPath": {"path": "/"}}),
        "host namespaces": lambda s: s.update(hostPID=True),
        "allowPrivilegeEscalation": lambda s: s["containers"][0]["securityContext"].pop("allowPrivilegeEscalation"),
        "drop ALL": lambda s: s["containers"][0]["securityContext"]["capabilities"].update(drop=["NET_RAW"]),
        "may add only NET_BIND_SERVICE": lambda s: s["containers"][0]["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]),
        "runAsUser 0": lambda s: s["securityContext"].update(runAsUser=0),
        "seccomp": lambda s: (s["securityContext"].pop("seccompProfile"),
                              s["containers"][0]["securityContext"].pop("seccompProfile")),
        "hostPort": lambda s: s["containers"][0]["ports"][0].update(hostPort=3000),
        "privileged": lambda s: s["containers"][0]["securityContext"].update(privileged=True),
    }
    for expected, mutate in mutations.items():
        spec = copy.deepcopy(grafana["spec"]["template"]["spec"])
        mutate(spec)
        assert any(expected in v for v in restricted_violations(spec, {})), expected


def test_operator_pods_need_our_pod_security_context(objects):
    prometheus = copy.deepcopy(next(o for o in objects if o["kind"] == "Prometheus"))
    assert restricted_violations(operator_pod_spec(prometheus), {}) == []
    prometheus["spec"]["securityContext"].pop("runAsNonRoot")
    found = restricted_violations(operator_pod_spec(prometheus), {})
    # The config-reloader containers the operator adds are judged too, not only the main container.
    assert {"container config-reloader: runAsNonRoot must be true",
            "container init-config-reloader: runAsNonRoot must be true"} <= set(found)


def test_synth_refuses_an_overlay_whose_stack_pods_would_be_rejected(objects):
    broken = copy.deepcopy(objects)
    grafana = next(o for o in broken if o["kind"] == "Deployment" and o["metadata"]["name"] == "grafana")
    grafana["spec"]["template"]["spec"]["hostNetwork"] = True
    rendered = render.RenderedOverlay("clinic", {"grafana": broken})
    with pytest.raises(ConfigError, match="Deployment/monitoring/grafana: namespace monitoring enforces restricted: "
                                          "host namespaces: hostNetwork"):
        render._check_admission(LoadedConfig("clinic", "overlays/clinic.yaml", StackConfig()), rendered)


REQUIRED = [  # (source, destination, port): every flow that crosses the two namespaces
    ("prometheus", "fluent-bit", 2020), ("prometheus", "otebpf", 9400), ("prometheus", "otebpf", 9401),
    ("fluent-bit", "loki", 3100), ("otebpf", "tempo", 4318)]
FORBIDDEN = [
    ("grafana", "fluent-bit", 2020), ("loki", "fluent-bit", 2020), ("alertmanager", "otebpf", 9400),
    ("fluent-bit", "prometheus", 9090), ("fluent-bit", "grafana", 3000), ("otebpf", "loki", 3100),
    ("fluent-bit", "mimir", 8080), ("otebpf", "alertmanager", 9093)]


def endpoint(manifests, name):
    return push(manifests, name) if name in ("loki", "tempo", "mimir") else pod(manifests, name)


@pytest.mark.parametrize("source,destination,port", REQUIRED)
def test_flows_across_the_namespaces_are_allowed(manifests, source, destination, port):
    src, dst = endpoint(manifests, source), endpoint(manifests, destination)
    assert src.namespace != dst.namespace
    assert flow_allowed(manifests, src, dst, port)


@pytest.mark.parametrize("source,destination,port", FORBIDDEN)
def test_nothing_else_crosses_the_namespaces(manifests, source, destination, port):
    assert not flow_allowed(manifests, endpoint(manifests, source), endpoint(manifests, destination), port)


def test_agents_reach_dns_and_the_api_server_and_nothing_outside(manifests, overlay):
    for name in ("fluent-bit", "otebpf"):
        agent = pod(manifests, name)
        assert all(flow_allowed(manifests, agent, dns, 53, "UDP") for dns in dns_peers(overlay_config(overlay).network))
        assert flow_allowed(manifests, agent, Address("10.100.0.1"), 443)
        assert not flow_allowed(manifests, agent, Address("10.100.0.1"), 80)
    # An application pod cannot reach the agents' metrics.
    app = Pod("openemr", "openemr", {"app": "openemr"}, {})
    assert not flow_allowed(manifests, app, pod(manifests, "fluent-bit"), 2020)


def test_both_namespaces_deny_by_default(objects):
    for namespace in (STACK, AGENTS):
        [deny] = [o for o in objects if o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] == namespace
                  and o["metadata"]["name"] == "default-deny"]
        assert deny["spec"]["podSelector"] == {} and set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}


def test_monitors_of_the_agents_are_selected_and_their_rbac_binds_their_service_accounts(manifests):
    monitors = [o for o in manifests.objects if o["kind"] in ("ServiceMonitor", "PodMonitor")
                and o["metadata"]["namespace"] == AGENTS]
    assert {m["metadata"]["name"] for m in monitors} == {"node-exporter", "otebpf", "fluent-bit"}
    for binding in (o for o in manifests.objects if o["kind"] == "ClusterRoleBinding"):
        for subject in binding["subjects"]:
            assert manifests.find("ServiceAccount", subject["name"], subject["namespace"]), binding["metadata"]["name"]


def test_cluster_scoped_objects_are_identical_in_every_overlay():
    def cluster_scoped(overlay):
        return {(o["kind"], o["metadata"]["name"]): yaml.safe_dump(o) for o in load_tree(DIST / overlay)
                if "namespace" not in o["metadata"]}
    first, *others = (cluster_scoped(overlay) for overlay in OVERLAYS)
    for other in others:
        assert {key: other[key] for key in first.keys() & other.keys()} == {key: first[key] for key in first.keys() & other.keys()}


def test_every_pod_of_the_stack_runs_with_a_high_uid(objects):
    """No uid a host user could have; root only for the agents, in their own namespace."""
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            spec = obj["spec"]["template"]["spec"]
        elif obj["kind"] in ("Prometheus", "Alertmanager"):
            spec = obj["spec"]
        else:
            continue
        uids = [spec["securityContext"].get("runAsUser")] + [
            (c.get("securityContext") or {}).get("runAsUser") for c in spec.get("containers", [])]
        uids = [uid for uid in uids if uid is not None]
        assert uids, obj["metadata"]["name"]
        if obj["metadata"]["namespace"] == STACK:
            assert min(uids) >= 10000, (obj["metadata"]["name"], uids)
