"""What each overlay renders: the six components, their scaling, isolation, monitoring and sizes."""
from __future__ import annotations

import copy

import pytest
from conftest import DIST, OVERLAYS, SIZES, overlay_config, renders_elasticsearch
from stackgen import budget
from stackgen.checks.addresses import check_urls, grafana_datasource_urls, in_cluster_addresses, resolve_url
from stackgen.checks.references import (
    check_autoscalers,
    check_disruption_budgets,
    check_labels,
    check_monitors_selected,
    check_service_monitor_ports,
)
from stackgen.checks.security import check_pod_security
from stackgen.flows import Address, dns_peers, flow_allowed
from stackgen.manifests import Manifests, Pod
from stackgen.validate import load_tree

COMPONENTS = ("prometheus-operator", "prometheus", "alertmanager", "grafana", "kube-state-metrics", "node-exporter",
              "otebpf", "fluent-bit")


def by_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def one(objects, kind, name=None):
    found = [o for o in by_kind(objects, kind) if name in (None, o["metadata"]["name"])]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def test_every_component_with_monitoring_and_isolation(objects):
    names = {o["metadata"]["labels"].get("app.kubernetes.io/name") for o in objects}
    assert set(COMPONENTS) <= names
    workloads = {o["metadata"]["labels"]["app.kubernetes.io/name"] for o in objects
                 if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Prometheus", "Alertmanager")}
    monitored = {m["metadata"]["labels"]["app.kubernetes.io/name"] for m in objects
                 if m["kind"] in ("ServiceMonitor", "PodMonitor")}
    # plus the platform stage's cert-manager, whose certificates the stack's alerts watch
    assert workloads | {"kubelet", "apiserver", "cert-manager"} == monitored
    isolated = {p["metadata"]["labels"]["app.kubernetes.io/name"] for p in by_kind(objects, "NetworkPolicy")}
    # node-exporter runs on the host network, where NetworkPolicies do not apply.
    assert workloads - {"node-exporter"} <= isolated
    assert by_kind(objects, "HorizontalPodAutoscaler") and by_kind(objects, "PodDisruptionBudget")


def test_storage_class_is_encrypted_gp3_for_auto_mode(objects):
    storage_class = one(objects, "StorageClass", "gp3-monitoring-encrypted")
    assert storage_class["provisioner"] == "ebs.csi.eks.amazonaws.com"
    assert storage_class["parameters"] == {"type": "gp3", "encrypted": "true"}
    assert storage_class["volumeBindingMode"] == "WaitForFirstConsumer"
    assert storage_class["allowVolumeExpansion"] is True
    claims = [o["spec"]["storage"]["volumeClaimTemplate"]["spec"] for o in objects if o["kind"] in ("Prometheus", "Alertmanager")]
    claims += [o["spec"] for o in by_kind(objects, "PersistentVolumeClaim")]
    assert len(claims) == 3 and all(c["storageClassName"] == "gp3-monitoring-encrypted" for c in claims)


def test_cluster_scoped_objects_are_identical_across_overlays():
    """Two overlays on two clusters, or a re-install, never fight over a cluster-scoped object."""
    def cluster_scoped(name):
        return {(o["kind"], o["metadata"]["name"]): o for o in load_tree(DIST / name)
                if o["kind"] in ("StorageClass", "ClusterRole", "ClusterRoleBinding")}
    reference = cluster_scoped("clinic")
    assert len(reference) == 13
    for name in OVERLAYS[1:]:
        # An overlay may add its own (the ECK operator's), never change the others'.
        assert {key: o for key, o in cluster_scoped(name).items() if key in reference} == reference
    # RBAC is named after the namespace, so a second install in another namespace cannot collide.
    assert all(name.startswith("monitoring-") for kind, name in reference if kind != "StorageClass")


def test_stack_enforces_restricted_and_only_the_agents_namespace_allows_host_access(objects):
    namespaces = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Namespace"}
    assert set(namespaces) == {"monitoring", "monitoring-agents"}
    stack, agents = (namespaces[n]["metadata"]["labels"] for n in ("monitoring", "monitoring-agents"))
    assert {mode: stack[f"pod-security.kubernetes.io/{mode}"] for mode in ("enforce", "audit", "warn")} == \
        {"enforce": "restricted", "audit": "restricted", "warn": "restricted"}
    assert stack["pod-security.kubernetes.io/enforce-version"] == "latest"
    # No warn label on the agents' namespace: applying the stack raises no Pod Security warning at all.
    assert agents["pod-security.kubernetes.io/enforce"] == "privileged" and "pod-security.kubernetes.io/warn" not in agents
    assert agents["pod-security.kubernetes.io/audit"] == "baseline"
    assert "node" in namespaces["monitoring-agents"]["metadata"]["annotations"]["pod-security.kubernetes.io/reason"]
    workloads = [o for o in objects if o["kind"] in ("Deployment", "DaemonSet", "StatefulSet")]
    assert {o["metadata"]["name"] for o in workloads if o["metadata"]["namespace"] == "monitoring-agents"} == \
        {"node-exporter", "otebpf", "fluent-bit"}
    host = {o["metadata"]["name"] for o in workloads
            if o["spec"]["template"]["spec"].get("hostNetwork") or o["spec"]["template"]["spec"].get("hostPID")
            or any("hostPath" in v for v in o["spec"]["template"]["spec"].get("volumes", []))}
    assert host == {"node-exporter", "otebpf", "fluent-bit"}
    explained = {o["metadata"]["name"] for o in workloads
                 if "monitoring.openemr.io/host-access" in (o["spec"]["template"]["metadata"].get("annotations") or {})}
    assert explained == host


def test_every_monitor_is_selected_and_every_port_exists(manifests):
    assert check_monitors_selected(manifests) == []
    assert check_service_monitor_ports(manifests) == []
    prometheus = one(manifests.objects, "Prometheus")
    assert prometheus["spec"]["serviceMonitorSelector"] == {"matchLabels": {"monitoring.openemr.io/prometheus": "main"}}
    assert prometheus["spec"]["ruleSelector"] == prometheus["spec"]["serviceMonitorSelector"]


def test_every_hpa_targets_something_scalable_with_requests(manifests):
    assert check_autoscalers(manifests) == []
    kinds = {h["spec"]["scaleTargetRef"]["kind"] for h in by_kind(manifests.objects, "HorizontalPodAutoscaler")}
    assert kinds <= {"Alertmanager", "Prometheus", "Deployment"}
    alertmanager = one(manifests.objects, "Alertmanager")
    assert "replicas" not in alertmanager["spec"], "the HPA owns the replica count"


def test_pdbs_only_where_more_than_one_replica_is_possible(manifests):
    assert check_disruption_budgets(manifests) == []
    protected = {p["metadata"]["name"] for p in by_kind(manifests.objects, "PodDisruptionBudget")}
    scalable = {h["metadata"]["name"] for h in by_kind(manifests.objects, "HorizontalPodAutoscaler")}
    multi = {o["metadata"]["labels"]["app.kubernetes.io/name"] for o in manifests.objects
             if o["kind"] in ("Prometheus", "Alertmanager", "Deployment", "StatefulSet") and o["spec"].get("replicas", 1) > 1}
    assert protected == scalable | multi


def test_security_defaults_hold_for_every_container(manifests):
    assert check_pod_security(manifests) == []
    assert check_labels(manifests) == []


def test_jobs_and_ecks_pods_are_held_to_the_same_defaults():
    """A Job whose requests vanished (as a JSON patch through the typed Job once made them) is refused."""
    objects = copy.deepcopy(load_tree(DIST / "hospital-elk"))
    job = next(o for o in objects if o["kind"] == "Job")
    job["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {}, "requests": {}}
    elasticsearch = next(o for o in objects if o["kind"] == "Elasticsearch")
    elasticsearch["spec"]["nodeSets"][0]["podTemplate"]["spec"]["containers"][0]["securityContext"].pop(
        "readOnlyRootFilesystem")
    problems = check_pod_security(Manifests(objects))
    assert f"Job/monitoring/{job['metadata']['name']} container setup: missing cpu/memory requests and limits" in problems
    assert any(p.startswith("Elasticsearch/monitoring/elasticsearch/") and p.endswith("missing readOnlyRootFilesystem")
               for p in problems), problems
    assert len(problems) == 2


def test_no_secret_value_is_rendered(objects):
    secrets = by_kind(objects, "Secret")
    assert [s["metadata"]["name"] for s in secrets] == ["alertmanager-main-config"]
    config = secrets[0]["stringData"]["alertmanager.yaml"]
    for word in ("api_url:", "routing_key:", "auth_password:", "password:", "token"):
        assert word not in config
    grafana = one(objects, "Deployment", "grafana")["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in grafana["containers"][0]["env"]}
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/etc/grafana/admin/admin-password"
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env
    assert {"name": "admin", "secret": {"secretName": "grafana-admin"}} in grafana["volumes"]


def test_grafana_datasources_resolve_to_rendered_service_ports(manifests):
    urls = grafana_datasource_urls(manifests)
    # Prometheus, Mimir, Loki, Tempo, Alertmanager, and Elasticsearch where it is rendered; CloudWatch and
    # X-Ray are AWS APIs, reached through Grafana's IRSA role.
    assert len(urls) == 5 + renders_elasticsearch(manifests.objects)
    assert [resolve_url(manifests, u) for u in urls] == [None] * len(urls)


def test_every_in_cluster_address_resolves_to_a_rendered_service_port(manifests):
    addresses = in_cluster_addresses(manifests)
    kinds = {where.split("/")[0] for where, _ in addresses}
    assert {"ConfigMap", "Prometheus"} <= kinds
    assert check_urls(manifests) == []


def test_grafana_single_replica_on_its_volume(objects):
    grafana = one(objects, "Deployment", "grafana")
    assert grafana["spec"]["replicas"] == 1 and grafana["spec"]["strategy"] == {"type": "Recreate"}
    assert not [h for h in by_kind(objects, "HorizontalPodAutoscaler") if h["spec"]["scaleTargetRef"]["name"] == "grafana"]


def pod(manifests, name):
    return next(p for p in manifests.pods() if p.labels.get("app.kubernetes.io/name") == name)


REQUIRED_FLOWS = [
    ("prometheus", "prometheus-operator", 8080), ("prometheus", "alertmanager", 9093), ("prometheus", "alertmanager", 8080),
    ("prometheus", "grafana", 3000), ("prometheus", "kube-state-metrics", 8080), ("prometheus", "kube-state-metrics", 8081),
    ("prometheus", "node-exporter", 9100), ("prometheus", "prometheus", 9090),
    ("grafana", "prometheus", 9090), ("grafana", "alertmanager", 9093), ("alertmanager", "alertmanager", 9094),
]
FORBIDDEN_FLOWS = [
    ("grafana", "kube-state-metrics", 8080), ("grafana", "prometheus-operator", 8080), ("kube-state-metrics", "prometheus", 9090),
    ("alertmanager", "prometheus", 9090), ("prometheus-operator", "grafana", 3000), ("prometheus", "grafana", 22),
]


@pytest.mark.parametrize("source,destination,port", REQUIRED_FLOWS)
def test_required_flow_is_allowed(manifests, source, destination, port):
    assert flow_allowed(manifests, pod(manifests, source), pod(manifests, destination), port)


@pytest.mark.parametrize("source,destination,port", FORBIDDEN_FLOWS)
def test_other_flow_is_denied(manifests, source, destination, port):
    assert not flow_allowed(manifests, pod(manifests, source), pod(manifests, destination), port)


def test_gossip_dns_and_api_flows(manifests, overlay):
    alertmanager = pod(manifests, "alertmanager")
    assert flow_allowed(manifests, alertmanager, alertmanager, 9094, "UDP")
    for dns in dns_peers(overlay_config(overlay).network):  # the cluster DNS address on Auto Mode
        for name in ("grafana", "prometheus", "alertmanager", "kube-state-metrics", "prometheus-operator"):
            assert flow_allowed(manifests, pod(manifests, name), dns, 53, "UDP")
    api = Address("10.100.0.1")
    for name in ("prometheus-operator", "kube-state-metrics", "prometheus"):
        assert flow_allowed(manifests, pod(manifests, name), api, 443)
    assert not flow_allowed(manifests, pod(manifests, "grafana"), api, 6443)
    assert not flow_allowed(manifests, pod(manifests, "kube-state-metrics"), Address("52.216.0.10"), 80)
    outsider = Pod("openemr", "openemr", {"app": "openemr"}, {})
    assert not flow_allowed(manifests, outsider, alertmanager, 9093)
    assert not flow_allowed(manifests, outsider, pod(manifests, "grafana"), 3000)


def requests_of(name):
    return budget.overall(load_tree(DIST / name), nodes=2)


def test_clinic_fits_its_budget():
    total = requests_of("clinic")
    assert total.cpu_millicores <= 4000 and total.memory_bytes <= 8 * 2**30, total.describe()


def test_overlays_scale_up_with_the_seed_sizes():
    clinic, hospital, large = (load_tree(DIST / n) for n in SIZES)
    assert requests_of("clinic").memory_bytes < requests_of("hospital").memory_bytes < requests_of("large").memory_bytes
    prometheus = [one(o, "Prometheus")["spec"] for o in (clinic, hospital, large)]
    assert [p["replicas"] for p in prometheus] == [1, 2, 2]
    assert [p["retention"] for p in prometheus] == ["15d", "30d", "30d"]
    sizes = [p["storage"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"] for p in prometheus]
    assert sizes == ["50Gi", "100Gi", "200Gi"]
    minimums = [one(o, "HorizontalPodAutoscaler", "alertmanager")["spec"]["minReplicas"] for o in (clinic, hospital, large)]
    assert minimums == [1, 2, 2]
