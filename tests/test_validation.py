"""Every rendered object is schema-valid for the oldest and newest supported Kubernetes, custom
resources against their pinned CRDs, and the cross-reference checks find nothing; the checks
themselves catch the defects they exist for."""
from __future__ import annotations

import copy

from conftest import DIST
from stackgen import validate
from stackgen.checks import check_all



def test_overlay_is_valid_for_oldest_and_newest_kubernetes(overlay):
    assert validate.SUPPORTED_KUBERNETES == ("1.29.0", "1.37.0")
    assert validate.validate_overlay(DIST / overlay) == []


def test_custom_resources_are_checked_against_their_crds(objects):
    custom = [o for o in objects if o["apiVersion"].startswith("monitoring.coreos.com/")]
    assert {o["kind"] for o in custom} == {"Prometheus", "Alertmanager", "ServiceMonitor", "PodMonitor", "PrometheusRule"}
    broken = copy.deepcopy(next(o for o in custom if o["kind"] == "Prometheus"))
    broken["spec"]["retentionTime"] = "30d"
    broken["spec"]["retention"] = "30 days"
    problems = validate.schema_problems(broken, validate.SUPPORTED_KUBERNETES)
    assert any("retentionTime" in p for p in problems) and any("30 days" in p for p in problems)


def test_core_kinds_are_validated_strictly(objects):
    deployment = copy.deepcopy(next(o for o in objects if o["kind"] == "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    problems = validate.schema_problems(deployment, validate.SUPPORTED_KUBERNETES)
    assert len(problems) == 2 and all("imagePullPolicyy" in p for p in problems)


def _mutated(objects, kind, name, mutate):
    objects = copy.deepcopy(objects)
    mutate(next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name))
    return check_all(objects)


def test_checker_catches_a_monitor_prometheus_does_not_select(objects):
    def drop_label(monitor):
        del monitor["metadata"]["labels"]["monitoring.openemr.io/prometheus"]
        monitor["metadata"]["labels"]["release"] = "prometheus-stack"
    assert any("not selected by any Prometheus" in p for p in _mutated(objects, "ServiceMonitor", "grafana", drop_label))


def test_checker_catches_a_monitor_port_the_service_lacks(objects):
    def rename(monitor):
        monitor["spec"]["endpoints"][0]["port"] = "metrics"
    assert any("port 'metrics' not on Service/monitoring/grafana" in p
               for p in _mutated(objects, "ServiceMonitor", "grafana", rename))


def test_checker_catches_a_service_selecting_nothing(objects):
    def retarget(service):
        service["spec"]["selector"] = {"app": "grafana"}
    assert any("Service/monitoring/grafana: selector matches no pod" in p
               for p in _mutated(objects, "Service", "grafana", retarget))


def test_checker_catches_a_url_to_a_port_nobody_listens_on(objects):
    def wrong_port(config_map):
        config_map["data"]["datasources.yaml"] = config_map["data"]["datasources.yaml"].replace(":9090", ":9091")
    assert any("has no port 9091" in p for p in _mutated(objects, "ConfigMap", "grafana-datasources", wrong_port))


def test_checker_catches_hpas_on_things_that_cannot_scale(objects):
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "bad", "namespace": "monitoring", "labels": {}},
           "spec": {"minReplicas": 1, "maxReplicas": 3, "metrics": [
               {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]}}
    statefulset = dict(hpa, spec={**hpa["spec"], "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "alertmanager-main"}})
    grafana = dict(hpa, spec={**hpa["spec"], "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "grafana"}})
    problems = check_all(objects + [statefulset, grafana])
    assert any("StatefulSet/alertmanager-main: target not rendered" in p for p in problems)
    assert any("Deployment/grafana: .spec.replicas is rendered" in p for p in problems)
    assert any("Deployment/grafana: replicas would share one ReadWriteOnce volume" in p for p in problems)


def test_checker_catches_insecure_containers(objects):
    def loosen(deployment):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        container["securityContext"]["readOnlyRootFilesystem"] = False
        del container["resources"]["limits"]
        container["image"] = "grafana/grafana:latest"
    problems = _mutated(objects, "Deployment", "grafana", loosen)
    assert {"readOnlyRootFilesystem", "cpu/memory requests and limits", "image pinned to a tag"} <= \
        {p.rsplit("missing ", 1)[1] for p in problems if "missing" in p}
