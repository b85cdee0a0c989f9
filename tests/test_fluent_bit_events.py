"""Kubernetes events reach Loki from one Fluent Bit replica: keys of the pinned Fluent Bit, RBAC that can
only list and watch events, flows to the API server and Loki's push port and nothing else, labels that
join the pod logs' streams, and the log search for OpenEMR's warning events documented."""
from __future__ import annotations

import yaml
from conftest import ROOT, run_main
from stackgen.checks.fluent_bit import config_problems
from stackgen.flows import Address, flow_allowed
from stackgen.validate import load_tree
from test_collection import backends_at, fluent_bit_config, one

NAME = "fluent-bit-events"


def events_config(objects):
    config_map = one(objects, "ConfigMap", f"{NAME}-config")
    return yaml.safe_load(config_map["data"]["fluent-bit.yaml"])


def pod(manifests, name):
    return next(p for p in manifests.pods() if p.labels.get("app.kubernetes.io/name") == name)


def test_one_replica_ships_the_events_with_keys_of_the_pinned_fluent_bit(objects):
    deployment = one(objects, "Deployment", NAME)
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert not [o for o in objects if o["kind"] == "HorizontalPodAutoscaler" and o["spec"]["scaleTargetRef"]["name"] == NAME]
    config = events_config(objects)
    [source] = config["pipeline"]["inputs"]
    assert source["name"] == "kubernetes_events"
    assert config_problems(config) == []
    # The check is real: a key 4.2.0's input does not have is reported.
    source["kube_watch_timeout"] = "1m"
    assert config_problems(config) == ["input kubernetes_events: unknown key 'kube_watch_timeout'"]
    # Not the node agents': the DaemonSet's configuration has no events input.
    assert "kubernetes_events" not in [i["name"] for i in fluent_bit_config(objects)["pipeline"]["inputs"]]


def test_rbac_can_only_list_and_watch_events(objects):
    role = one(objects, "ClusterRole", f"monitoring-{NAME}")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["events"], "verbs": ["list", "watch"]}]
    binding = one(objects, "ClusterRoleBinding", f"monitoring-{NAME}")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": NAME, "namespace": "monitoring"}]
    bound = [b for o in objects if o["kind"] in ("ClusterRoleBinding", "RoleBinding")
             for b in o["subjects"] if b["name"] == NAME]
    assert len(bound) == 1


def test_it_reaches_the_api_server_and_lokis_push_port_only(manifests, objects):
    shipper = pod(manifests, NAME)
    [output] = events_config(objects)["pipeline"]["outputs"]
    backends = backends_at(manifests, f"{output['host']}:{output['port']}")
    assert backends
    for loki, number in backends:
        assert flow_allowed(manifests, shipper, loki, number)
        assert not flow_allowed(manifests, shipper, loki, 7946)
    assert flow_allowed(manifests, shipper, Address("10.100.0.1"), 443)
    assert not flow_allowed(manifests, shipper, pod(manifests, "grafana"), 3000)
    assert not flow_allowed(manifests, shipper, Address("52.216.0.10"), 80)
    assert flow_allowed(manifests, pod(manifests, "prometheus"), shipper, 2020)


def test_labels_join_the_pod_logs_and_warning_events_can_be_searched(objects):
    config = events_config(objects)
    [output] = config["pipeline"]["outputs"]
    labels = dict(pair.strip().split("=", 1) for pair in output["labels"].split(","))
    [pods_output] = [o for o in fluent_bit_config(objects)["pipeline"]["outputs"] if o["name"] == "loki"]
    pod_labels = dict(pair.strip().split("=", 1) for pair in pods_output["labels"].split(","))
    assert {"namespace", "pod", "cluster"} <= set(labels) & set(pod_labels)
    assert labels["job"] == "kubernetes-events" and labels["type"] == "$type"
    # `pod` exists only for events about a pod: the involved object is lifted, its name copied for kind Pod.
    lift, copy = config["pipeline"]["filters"]
    assert (lift["name"], lift["nested_under"], lift["add_prefix"]) == ("nest", "involvedObject", "object_")
    assert copy == {"name": "modify", "match": lift["match"], "condition": "Key_value_equals object_kind Pod",
                    "copy": "object_name pod"}
    assert labels["pod"] == "$pod" and labels["namespace"] == "$object_namespace"
    search = '{job="kubernetes-events", namespace="openemr", type="Warning"}'
    assert search in (ROOT / "README.md").read_text() and search in (ROOT / "docs" / "runbooks.md").read_text()


def test_it_runs_like_every_other_stack_pod(objects):
    spec = one(objects, "Deployment", NAME)["spec"]["template"]["spec"]
    [container] = spec["containers"]
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] >= 10000
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert set(container["resources"]) == {"requests", "limits"}
    namespace = one(objects, "Namespace", "monitoring")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_turned_off_it_disappears_and_loki_no_longer_admits_it(tmp_path):
    overlays = tmp_path / "overlays"
    overlays.mkdir()
    (overlays / "clinic.yaml").write_text((ROOT / "overlays" / "clinic.yaml").read_text()
                                          + "fluent_bit:\n  events: {enabled: false}\n")
    result = run_main("--overlays", str(overlays), "--dist", str(tmp_path / "dist"))
    assert result.returncode == 0, result.stderr
    objects = load_tree(tmp_path / "dist" / "clinic")
    assert not [o for o in objects if NAME in o["metadata"].get("name", "")]
    assert NAME not in yaml.safe_dump([o for o in objects if o["kind"] == "NetworkPolicy"])
