"""Cross-reference checks over rendered manifests: the failures that pass a schema check.

A selector that matches nothing, a monitor port no Service has, a URL to a port nobody listens on, an
HPA on something that cannot scale: each check returns readable problems, empty when all is well.
Pods the operator creates from the Prometheus and Alertmanager CRs are modelled here (labels and ports
as the pinned operator sets them), so selectors and policies are checked against them too.
"""
from __future__ import annotations

import functools
import ipaddress
import json
import re
from dataclasses import dataclass, field

import yaml

from stackgen import catalog
from stackgen.names import HOST_ACCESS_ANNOTATION, SELECTION_LABEL

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
# Where a host-network pod is reached: any node address inside the default node CIDRs.
NODE_ADDRESS = "10.0.0.10"
SCALABLE_CRS = {("monitoring.coreos.com/v1", "Prometheus"), ("monitoring.coreos.com/v1", "Alertmanager")}
# Services the operator maintains itself (not rendered): (namespace or None for the CR's, name) -> ports.
OPERATOR_SERVICES = {("kube-system", "kubelet"): {"https-metrics": 10250, "http-metrics": 10255, "cadvisor": 4194}}


@dataclass
class Pod:
    """A pod as the cluster would run it: from a workload template or an operator-managed CR."""
    owner: str
    namespace: str
    labels: dict[str, str]
    ports: dict[str, tuple[int, str]]  # name -> (number, protocol)
    containers: list[dict] = field(default_factory=list)
    host_network: bool = False


def ref(obj: dict) -> str:
    return f"{obj['kind']}/{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}".replace("//", "/")


def matches(selector: dict | None, labels: dict[str, str]) -> bool:
    """Kubernetes label selector semantics (matchLabels AND matchExpressions); an empty selector matches all."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


class Manifests:
    def __init__(self, objects: list[dict]):
        self.objects = objects

    def of_kind(self, *kinds: str) -> list[dict]:
        return [o for o in self.objects if o["kind"] in kinds]

    def find(self, kind: str, name: str, namespace: str | None = None) -> dict | None:
        for obj in self.of_kind(kind):
            if obj["metadata"]["name"] == name and namespace in (None, obj["metadata"].get("namespace")):
                return obj
        return None

    def namespace_labels(self, name: str) -> dict[str, str]:
        namespace = self.find("Namespace", name)
        labels = dict(namespace["metadata"].get("labels", {})) if namespace else {}
        labels[NAMESPACE_NAME_LABEL] = name  # set by the API server on every namespace
        return labels

    def pods(self) -> list[Pod]:
        return self._pods

    def services(self) -> list[dict]:
        return self._services

    @functools.cached_property
    def _pods(self) -> list[Pod]:
        pods = []
        for obj in self.of_kind("Deployment", "StatefulSet", "DaemonSet"):
            template = obj["spec"]["template"]
            containers = template["spec"]["containers"]
            pods.append(Pod(ref(obj), obj["metadata"]["namespace"], template["metadata"].get("labels", {}),
                            _container_ports(containers), containers, template["spec"].get("hostNetwork", False)))
        for obj in self.of_kind("Prometheus", "Alertmanager"):
            pods.append(_operator_pod(obj))
        return pods

    @functools.cached_property
    def _services(self) -> list[dict]:
        services = list(self.of_kind("Service"))
        for obj in self.of_kind("Prometheus", "Alertmanager"):
            services.append(_operator_service(obj))
        return services


def _container_ports(containers: list[dict]) -> dict[str, tuple[int, str]]:
    return {p["name"]: (p["containerPort"], p.get("protocol", "TCP"))
            for c in containers for p in c.get("ports", []) if "name" in p}


def _operator_pod(cr: dict) -> Pod:
    kind, name, namespace = cr["kind"], cr["metadata"]["name"], cr["metadata"]["namespace"]
    app = kind.lower()
    labels = {**(cr["spec"].get("podMetadata") or {}).get("labels", {}),
              "app.kubernetes.io/name": app, "app.kubernetes.io/instance": name,
              "app.kubernetes.io/managed-by": "prometheus-operator", app: name}
    if kind == "Prometheus":
        ports = {"web": (9090, "TCP"), "reloader-web": (8080, "TCP")}
    else:
        ports = {"web": (9093, "TCP"), "mesh-tcp": (9094, "TCP"), "mesh-udp": (9094, "UDP"),
                 "reloader-web": (8080, "TCP")}
    return Pod(ref(cr), namespace, labels, ports)


def _operator_service(cr: dict) -> dict:
    """The headless `<kind>-operated` Service the operator creates for each CR kind."""
    app = cr["kind"].lower()
    ports = [{"name": "web", "port": 9090 if app == "prometheus" else 9093, "targetPort": "web"}]
    if app == "alertmanager":
        ports += [{"name": "tcp-mesh", "port": 9094, "targetPort": 9094},
                  {"name": "udp-mesh", "port": 9094, "targetPort": 9094, "protocol": "UDP"}]
    return {"kind": "Service", "metadata": {"name": f"{app}-operated", "namespace": cr["metadata"]["namespace"]},
            "spec": {"selector": {"app.kubernetes.io/name": app}, "ports": ports}}


# --- checks ---------------------------------------------------------------------------------------

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


def _selected_services(m: Manifests, monitor: dict) -> tuple[list[dict], list[str]]:
    """Services a ServiceMonitor selects, and operator-maintained ones it names outside the overlay."""
    spec = monitor["spec"]
    names = (spec.get("namespaceSelector") or {}).get("matchNames") or [monitor["metadata"]["namespace"]]
    found = [s for s in m.services() if s["metadata"].get("namespace") in names
             and matches(spec["selector"], s["metadata"].get("labels", {}))]
    external = [f"{ns}/{name}" for (ns, name) in OPERATOR_SERVICES if ns in names
                and matches(spec["selector"], {"app.kubernetes.io/name": name})]
    return found, external


def check_service_monitor_ports(m: Manifests) -> list[str]:
    problems = []
    for monitor in m.of_kind("ServiceMonitor"):
        services, external = _selected_services(m, monitor)
        if not services and not external:
            problems.append(f"{ref(monitor)}: selects no Service")
        for endpoint in monitor["spec"]["endpoints"]:
            for service in services:
                if endpoint.get("port") not in {p.get("name") for p in service["spec"]["ports"]}:
                    problems.append(f"{ref(monitor)}: port {endpoint.get('port')!r} not on {ref(service)}")
            for name in external:
                if endpoint.get("port") not in OPERATOR_SERVICES[tuple(name.split("/"))]:
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


def service_backends(m: Manifests, service: dict) -> list[Pod]:
    namespace = service["metadata"].get("namespace")
    selector = service["spec"].get("selector")  # a Service selects by a plain map of labels
    return [p for p in m.pods() if p.namespace == namespace and selector and matches({"matchLabels": selector}, p.labels)]


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


# An in-cluster address as configs write it: http://svc.ns.svc[.cluster.local]:port/..., memberlist's
# dns+svc.ns.svc...:port, gRPC's dns:///svc.ns.svc...:port. The port must be explicit.
ADDRESS = re.compile(r"(?:https?://|dns\+|dns:///)?([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.cluster\.local)?(?::(\d+))?")


def resolve_url(m: Manifests, url: str) -> str | None:
    """None if the address names a port of a rendered Service; else what is wrong."""
    match = ADDRESS.search(url)
    if not match or not match.group(3):
        return f"{url}: not an in-cluster service address with an explicit port"
    name, namespace, port = match.group(1), match.group(2), int(match.group(3))
    service = next((s for s in m.services() if s["metadata"]["name"] == name
                    and s["metadata"].get("namespace") == namespace), None)
    if service is None:
        return f"{url}: no Service {namespace}/{name}"
    if port not in {p["port"] for p in service["spec"]["ports"]}:
        return f"{url}: Service {namespace}/{name} has no port {port}"
    return None


def _host_port_pairs(node) -> list[str]:
    """`host: <name>` with `port: <n>` beside it (Fluent Bit outputs and the like), as host:port."""
    if isinstance(node, list):
        return [pair for item in node for pair in _host_port_pairs(item)]
    if not isinstance(node, dict):
        return []
    own = [f"{node['host']}:{node['port']}"] if isinstance(node.get("host"), str) and "port" in node else []
    return own + [pair for value in node.values() for pair in _host_port_pairs(value)]


def _config_file_addresses(obj: dict) -> list[str]:
    if obj["kind"] != "ConfigMap":
        return []
    pairs = []
    for content in (obj.get("data") or {}).values():
        try:
            pairs += _host_port_pairs(yaml.safe_load(content))
        except yaml.YAMLError:
            continue
    return pairs


def in_cluster_addresses(m: Manifests) -> list[tuple[str, str]]:
    """(object, address) for every in-cluster address any rendered object mentions (configs, CRs, env).
    A bare host name counts with the port configured beside it."""
    found = []
    for obj in m.objects:
        paired = _config_file_addresses(obj)
        hosts = {pair.rsplit(":", 1)[0] for pair in paired}
        found += [(ref(obj), match.group(0)) for match in ADDRESS.finditer(json.dumps(obj))
                  if match.group(3) or match.group(0) not in hosts]
        found += [(ref(obj), pair) for pair in paired if ADDRESS.fullmatch(pair)]
    return found


def grafana_datasource_urls(m: Manifests) -> list[str]:
    urls = []
    for config_map in m.of_kind("ConfigMap"):
        for content in (config_map.get("data") or {}).values():
            document = yaml.safe_load(content) if "datasources:" in content else None
            urls += [source["url"] for source in (document or {}).get("datasources", []) if "url" in source]
    return urls


def check_urls(m: Manifests) -> list[str]:
    return [f"{where}: {problem}" for where, address in in_cluster_addresses(m)
            if (problem := resolve_url(m, address))]


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


def check_pod_security(m: Manifests) -> list[str]:
    """The restricted defaults everywhere; root, added capabilities, hostPID and hostNetwork only on pods
    that say why (HOST_ACCESS_ANNOTATION). Privileged never."""
    problems = []
    for obj in m.of_kind("Deployment", "StatefulSet", "DaemonSet"):
        spec = obj["spec"]["template"]["spec"]
        pod_context = spec.get("securityContext", {})
        excepted = HOST_ACCESS_ANNOTATION in (obj["spec"]["template"]["metadata"].get("annotations") or {})
        if not excepted and (spec.get("hostPID") or spec.get("hostNetwork")):
            problems.append(f"{ref(obj)}: host namespaces without a {HOST_ACCESS_ANNOTATION} reason")
        for container in spec["containers"]:
            context = container.get("securityContext", {})
            where = f"{ref(obj)} container {container['name']}"
            capabilities = context.get("capabilities") or {}
            if capabilities.get("add") and not excepted:
                problems.append(f"{where}: adds capabilities without a {HOST_ACCESS_ANNOTATION} reason")
            expectations = {
                "runAsNonRoot": excepted or context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is True,
                "readOnlyRootFilesystem": context.get("readOnlyRootFilesystem") is True,
                "allowPrivilegeEscalation=false": context.get("allowPrivilegeEscalation") is False,
                "capabilities drop ALL": capabilities.get("drop") == ["ALL"],
                "seccomp RuntimeDefault": (context.get("seccompProfile") or pod_context.get("seccompProfile") or {}).get("type") == "RuntimeDefault",
                "cpu/memory requests and limits": all(
                    r in (container.get("resources") or {}).get(kind, {}) for kind in ("requests", "limits") for r in ("cpu", "memory")),
                "readiness and liveness probes": "readinessProbe" in container and "livenessProbe" in container,
                "image pinned to a tag": re.search(r":[^:/]+$", container["image"]) is not None and not container["image"].endswith(":latest"),
            }
            problems += [f"{where}: missing {name}" for name, ok in expectations.items() if not ok]
            if context.get("privileged"):
                problems.append(f"{where}: privileged")
    for cr in m.of_kind("Prometheus", "Alertmanager"):
        context = cr["spec"].get("securityContext", {})
        if context.get("runAsNonRoot") is not True or (context.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
            problems.append(f"{ref(cr)}: pod securityContext must be non-root with seccomp RuntimeDefault")
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


ALL_CHECKS = [check_monitors_selected, check_service_monitor_ports, check_services, check_urls,
              check_autoscalers, check_disruption_budgets, check_network_policies, check_pod_security, check_labels,
              check_port_names, check_monitors_catalogued]


def check_all(objects: list[dict]) -> list[str]:
    manifests = Manifests(objects)
    return [problem for check in ALL_CHECKS for problem in check(manifests)]


# --- NetworkPolicy evaluation ---------------------------------------------------------------------

@dataclass(frozen=True)
class Address:
    """A destination outside the pod network (API server, a node, the internet)."""
    ip: str


def _peer_matches(m: Manifests, peer: dict, policy_namespace: str, other: Pod | Address) -> bool:
    if "ipBlock" in peer:
        if not isinstance(other, Address):
            return False
        block = peer["ipBlock"]
        address = ipaddress.ip_address(other.ip)
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(e) for e in block.get("except", []))
    if isinstance(other, Address):
        return False
    if "namespaceSelector" in peer:
        if not matches(peer["namespaceSelector"], m.namespace_labels(other.namespace)):
            return False
    elif other.namespace != policy_namespace:
        return False
    return matches(peer.get("podSelector", {}), other.labels)


def _port_matches(rule_ports: list[dict] | None, number: int, protocol: str, pod: Pod | None) -> bool:
    if not rule_ports:
        return True
    for port in rule_ports:
        if port.get("protocol", "TCP") != protocol:
            continue
        value = port.get("port")
        if value is None or value == number or (isinstance(value, str) and pod and pod.ports.get(value, (None,))[0] == number):
            return True
    return False


def _allowed_by(m: Manifests, pod: Pod, direction: str, other: Pod | Address, number: int, protocol: str,
                destination: Pod | None) -> bool:
    policy_type, rules_key, peers_key = {"Ingress": ("Ingress", "ingress", "from"),
                                         "Egress": ("Egress", "egress", "to")}[direction]
    policies = [p for p in m.of_kind("NetworkPolicy") if p["metadata"]["namespace"] == pod.namespace
                and policy_type in p["spec"].get("policyTypes", ["Ingress"])
                and matches(p["spec"]["podSelector"], pod.labels)]
    if not policies:
        return True
    for policy in policies:
        for rule in policy["spec"].get(rules_key) or []:
            peers = rule.get(peers_key)
            peer_ok = not peers or any(_peer_matches(m, peer, pod.namespace, other) for peer in peers)
            if peer_ok and _port_matches(rule.get("ports"), number, protocol, destination):
                return True
    return False


def flow_allowed(m: Manifests, source: Pod, destination: Pod | Address, port: int, protocol: str = "TCP") -> bool:
    """Would the rendered NetworkPolicies let `source` open `port` on `destination`?

    Host-network pods are not subject to NetworkPolicies; as a destination they are their node's address.
    """
    if isinstance(destination, Pod) and destination.host_network:
        destination = Address(NODE_ADDRESS)
    if not source.host_network and not _allowed_by(m, source, "Egress", destination, port, protocol,
                                                   destination if isinstance(destination, Pod) else None):
        return False
    if isinstance(destination, Pod):
        return _allowed_by(m, destination, "Ingress", source, port, protocol, destination)
    return True
