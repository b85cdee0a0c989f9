"""Rendered manifests as the cluster would see them, for the checks and the policy evaluator.

Pods the operator creates from the Prometheus and Alertmanager CRs are modelled here (labels and ports
as the pinned operator sets them), and so are the Services it maintains, so that selectors and
policies are checked against them too.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

from stackgen.components.elk import eck_model

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
# Services the cluster has without us (not rendered): the kubelet Service the operator maintains, the
# API server's default `kubernetes` Service, and the metrics Service of the cert-manager chart the platform
# stage installs (deploy/charts/cert-manager/templates/service.yaml, release `cert-manager`).
# (namespace, name) -> (its labels, its ports).
OPERATOR_SERVICES = {
    ("cert-manager", "cert-manager"): ({"app": "cert-manager", "app.kubernetes.io/name": "cert-manager",
                                        "app.kubernetes.io/instance": "cert-manager",
                                        "app.kubernetes.io/component": "controller"},
                                       {"tcp-prometheus-servicemonitor": 9402}),
    ("kube-system", "kubelet"): ({"app.kubernetes.io/name": "kubelet"},
                                 {"https-metrics": 10250, "http-metrics": 10255, "cadvisor": 4194}),
    ("default", "kubernetes"): ({"component": "apiserver", "provider": "kubernetes"}, {"https": 443}),
}


@dataclass
class Pod:
    """A pod as the cluster would run it: from a workload template or an operator-managed CR."""
    owner: str
    namespace: str
    labels: dict[str, str]
    ports: dict[str, tuple[int, str]]  # name -> (number, protocol)
    containers: list[dict] = field(default_factory=list)
    host_network: bool = False
    # The rendered pod spec and its annotations; empty for the operator's pods (their CR is all there is).
    spec: dict = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """The kind of the object the pod comes from (Deployment, Job, Elasticsearch, ...)."""
        return self.owner.split("/", 1)[0]


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

    def service(self, name: str, namespace: str) -> dict | None:
        """A rendered or operator-maintained Service by name."""
        return next((s for s in self._services if s["metadata"]["name"] == name
                     and s["metadata"].get("namespace") == namespace), None)

    @functools.cached_property
    def _pods(self) -> list[Pod]:
        pods = []
        for obj in self.of_kind("Deployment", "StatefulSet", "DaemonSet", "Job"):
            template = obj["spec"]["template"]
            containers = template["spec"]["containers"]
            pods.append(Pod(ref(obj), obj["metadata"]["namespace"], template["metadata"].get("labels", {}),
                            _container_ports(containers), containers, template["spec"].get("hostNetwork", False),
                            template["spec"], template["metadata"].get("annotations") or {}))
        for obj in self.of_kind("Prometheus", "Alertmanager"):
            pods.append(_operator_pod(obj))
        for obj in self.of_kind("Elasticsearch", "Kibana"):  # ECK's pods (components/elk/eck_model.py)
            pods += [Pod(f"{ref(obj)}/{role}", obj["metadata"]["namespace"], labels, ports, spec["containers"],
                         spec=spec)
                     for role, labels, ports, spec in eck_model.pods(obj)]
        return pods

    @functools.cached_property
    def _services(self) -> list[dict]:
        services = list(self.of_kind("Service"))
        for obj in self.of_kind("Prometheus", "Alertmanager"):
            services.append(_operator_service(obj))
        for obj in self.of_kind("Elasticsearch", "Kibana"):
            services += eck_model.services(obj)
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


def service_backends(m: Manifests, service: dict) -> list[Pod]:
    namespace = service["metadata"].get("namespace")
    selector = service["spec"].get("selector")  # a Service selects by a plain map of labels
    return [p for p in m.pods() if p.namespace == namespace and selector and matches({"matchLabels": selector}, p.labels)]
