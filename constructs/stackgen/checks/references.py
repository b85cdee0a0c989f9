"""Cross-reference checks: the failures that pass a schema check.

A selector that matches nothing, a monitor port no Service has, an HPA on something that cannot scale,
a monitor nobody selects: each check returns readable problems, empty when all is well.
"""
from __future__ import annotations

import re

from stackgen import catalog
from stackgen.manifests import OPERATOR_SERVICES, Manifests, Pod, matches, ref, service_backends
from stackgen.names import SELECTION_LABEL

SCALABLE_CRS = {("monitoring.coreos.com/v1", "Prometheus"), ("monitoring.coreos.com/v1", "Alertmanager")}


def check_monitors_selected(m: Manifests) -> list[str]:
    problems = []
    prometheuses = m.of_kind("Prometheus")
    selectors = {"ServiceMonitor": ("serviceMonitorSelector", "serviceMonitorNamespaceSelector"),
                 "PodMonitor": ("podMonitorSelector", "podMonitorNamespaceSelector"),
                 "PrometheusRule": ("ruleSelector", "ruleNamespaceSelector")}
    for obj in m.of_kind(*selectors):
        selector_key, namespace_key = selectors[obj["kind"]]
        labels = obj["metadata"].get("labels", {})
        namespace = obj["metadata"]["namespace"]
        if not any(matches(p["spec"].get(selector_key), labels) and _namespace_selected(m, p, namespace_key, namespace)
                   for p in prometheuses):
            problems.append(f"{ref(obj)}: not selected by any Prometheus (needs label {SELECTION_LABEL})")
    return problems


def _namespace_selected(m: Manifests, prometheus: dict, key: str, namespace: str) -> bool:
    selector = prometheus["spec"].get(key)
    if selector is None:  # the operator's default: only the Prometheus' own namespace
        return namespace == prometheus["metadata"]["namespace"]
    return matches(selector, m.namespace_labels(namespace))


def selected_services(m: Manifests, monitor: dict) -> tuple[list[dict], list[str]]:
    """Services a ServiceMonitor selects, and operator-maintained ones it names outside the overlay."""
    spec = monitor["spec"]
    names = (spec.get("namespaceSelector") or {}).get("matchNames") or [monitor["metadata"]["namespace"]]
    found = [s for s in m.services() if s["metadata"].get("namespace") in names
             and matches(spec["selector"], s["metadata"].get("labels", {}))]
    external = [f"{ns}/{name}" for (ns, name), (labels, _) in OPERATOR_SERVICES.items() if ns in names
                and matches(spec["selector"], labels)]
    return found, external


def check_service_monitor_ports(m: Manifests) -> list[str]:
    problems = []
    for monitor in m.of_kind("ServiceMonitor"):
        services, external = selected_services(m, monitor)
        if not services and not external:
            problems.append(f"{ref(monitor)}: selects no Service")
        for endpoint in monitor["spec"]["endpoints"]:
            for service in services:
                if endpoint.get("port") not in {p.get("name") for p in service["spec"]["ports"]}:
                    problems.append(f"{ref(monitor)}: port {endpoint.get('port')!r} not on {ref(service)}")
            for name in external:
                if endpoint.get("port") not in OPERATOR_SERVICES[tuple(name.split("/"))][1]:
                    problems.append(f"{ref(monitor)}: port {endpoint.get('port')!r} not on {name}")
    for monitor in m.of_kind("PodMonitor"):
        pods = [p for p in m.pods() if p.namespace == monitor["metadata"]["namespace"]
                and matches(monitor["spec"]["selector"], p.labels)]
        if not pods:
            problems.append(f"{ref(monitor)}: selects no pod")
        for endpoint in monitor["spec"].get("podMetricsEndpoints", []):
            for pod in pods:
                if endpoint.get("port") not in pod.ports:
                    problems.append(f"{ref(monitor)}: port {endpoint.get('port')!r} not on {pod.owner}")
    return problems


def check_services(m: Manifests) -> list[str]:
    problems = []
    for service in m.services():
        pods = service_backends(m, service)
        if not pods:
            problems.append(f"{ref(service)}: selector matches no pod")
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            for pod in pods:
                numbers = {number for number, _ in pod.ports.values()}
                if (isinstance(target, str) and target not in pod.ports) or (isinstance(target, int) and target not in numbers):
                    problems.append(f"{ref(service)}: targetPort {target!r} not a port of {pod.owner}")
    return problems


def check_autoscalers(m: Manifests) -> list[str]:
    problems = []
    for hpa in m.of_kind("HorizontalPodAutoscaler"):
        spec, target = hpa["spec"], hpa["spec"]["scaleTargetRef"]
        obj = m.find(target["kind"], target["name"], hpa["metadata"]["namespace"])
        where = f"{ref(hpa)} -> {target['kind']}/{target['name']}"
        if obj is None:
            problems.append(f"{where}: target not rendered")
            continue
        if spec.get("minReplicas", 1) > spec["maxReplicas"]:
            problems.append(f"{where}: minReplicas > maxReplicas")
        if (target["apiVersion"], target["kind"]) in SCALABLE_CRS:
            pinned = "shards" if target["kind"] == "Prometheus" else "replicas"
            containers = [{"resources": obj["spec"].get("resources", {})}]
        elif target["kind"] in ("Deployment", "StatefulSet"):
            pinned, containers = "replicas", obj["spec"]["template"]["spec"]["containers"]
        else:
            problems.append(f"{where}: {target['kind']} has no scale subresource the stack may drive")
            continue
        if pinned in obj["spec"]:
            problems.append(f"{where}: .spec.{pinned} is rendered, so every apply would undo the HPA")
        for metric in spec.get("metrics", []):
            resource = metric.get("resource", {}).get("name")
            if resource and any(resource not in (c.get("resources") or {}).get("requests", {}) for c in containers):
                problems.append(f"{where}: scales on {resource} but a container has no {resource} request")
        volumes = obj["spec"].get("template", {}).get("spec", {}).get("volumes", [])
        if any("persistentVolumeClaim" in v for v in volumes):
            problems.append(f"{where}: replicas would share one ReadWriteOnce volume")
    return problems


def check_disruption_budgets(m: Manifests) -> list[str]:
    return [f"{ref(pdb)}: selector matches no pod" for pdb in m.of_kind("PodDisruptionBudget")
            if not any(p.namespace == pdb["metadata"]["namespace"] and matches(pdb["spec"]["selector"], p.labels)
                       for p in m.pods())]


def check_network_policies(m: Manifests) -> list[str]:
    """Policies in a namespace with rendered pods must select some. (A policy in the application's
    namespace selects the app's own pods, which are not rendered; the flow tests model those.)"""
    problems = []
    pods_by_namespace: dict[str, list[Pod]] = {}
    for pod in m.pods():
        pods_by_namespace.setdefault(pod.namespace, []).append(pod)
    for policy in m.of_kind("NetworkPolicy"):
        selector, namespace = policy["spec"]["podSelector"], policy["metadata"]["namespace"]
        if not selector or namespace not in pods_by_namespace:
            continue
        if not any(matches(selector, p.labels) for p in pods_by_namespace[namespace] if not p.host_network):
            problems.append(f"{ref(policy)}: podSelector matches no pod")
    return problems


# What the API server accepts as a port name (IANA service name); the JSON schemas do not check it.
PORT_NAME = re.compile(r"^(?=.{1,15}$)(?=.*[a-z])[a-z0-9]+(-[a-z0-9]+)*$")


def check_port_names(m: Manifests) -> list[str]:
    problems = []
    for pod in m.pods():
        problems += [f"{pod.owner}: port name {name!r} is not a valid port name (at most 15 of a-z, 0-9, '-')"
                     for name in pod.ports if not PORT_NAME.match(name)]
    return problems


def check_monitors_catalogued(m: Manifests) -> list[str]:
    return catalog.check_monitors_catalogued(m.of_kind("ServiceMonitor", "PodMonitor"))


def check_labels(m: Manifests) -> list[str]:
    required = ["app.kubernetes.io/name", "app.kubernetes.io/part-of"]
    full = required + ["app.kubernetes.io/instance", "app.kubernetes.io/component", "app.kubernetes.io/version"]
    problems = []
    for obj in m.objects:
        labels = obj["metadata"].get("labels", {})
        needed = required if obj["kind"] in ("Namespace", "StorageClass", "NetworkPolicy") and "app.kubernetes.io/instance" not in labels else full
        problems += [f"{ref(obj)}: missing label {key}" for key in needed if key not in labels]
    return problems
