"""Which rendered pods an in-cluster host name reaches, which port, and which certificate they serve.

A host is in the cluster when it names a rendered Service the way cluster DNS resolves it: `svc` (in the
client's namespace), `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local`, or a StatefulSet member behind
a headless Service, `pod.svc.ns.svc[.cluster.local]`. Any other host (an AWS endpoint, localhost) is not.
"""
from __future__ import annotations

from dataclasses import dataclass

from stackgen.lib.tls import CLUSTER_DOMAIN
from stackgen.manifests import Manifests, Pod, matches, ref, service_backends


@dataclass(frozen=True)
class Target:
    """The Service a host names and the pods behind it."""
    service: dict
    pods: tuple[Pod, ...]

    @property
    def where(self) -> str:
        return ref(self.service)


def _service_and_namespace(labels: list[str], client_namespace: str) -> tuple[str, str] | None:
    """(service, namespace) a name resolves to; a member name (`pod.svc.ns.svc`) resolves to its Service."""
    suffix = ["svc", *CLUSTER_DOMAIN.split(".")]
    for tail in (suffix, suffix[:1]):
        if labels[-len(tail):] == tail and len(labels) in (len(tail) + 2, len(tail) + 3):
            return labels[-len(tail) - 2], labels[-len(tail) - 1]
    if len(labels) == 2:
        return labels[0], labels[1]
    if len(labels) == 1:
        return labels[0], client_namespace
    return None


def resolve_host(m: Manifests, host: str, client_namespace: str) -> Target | None:
    """The rendered Service (and its pods) `host` reaches from a pod in `client_namespace`, or None."""
    found = _service_and_namespace(host.lower().rstrip(".").split("."), client_namespace)
    if found is None:
        return None
    name, namespace = found
    service = m.service(name, namespace)
    return Target(service, tuple(service_backends(m, service))) if service else None


def service_port_target(service: dict, port: int) -> tuple[str | int, str] | None:
    """(targetPort, protocol) of the Service port numbered `port`, or None when it has none."""
    for entry in service["spec"]["ports"]:
        if entry["port"] == port:
            return entry.get("targetPort", entry["port"]), entry.get("protocol", "TCP")
    return None


def container_port_name(pod: Pod, target: str | int, protocol: str = "TCP") -> str | None:
    """The name of the pod's port a Service's targetPort (a name or a number) designates."""
    for name, (number, proto) in pod.ports.items():
        if (target == name or target == number) and proto == protocol:
            return name
    return None


def selected_pods(m: Manifests, namespace: str, selector: dict) -> list[Pod]:
    return [p for p in m.pods() if p.namespace == namespace and matches(selector, p.labels)]


def component(pod: Pod) -> str:
    return pod.labels.get("app.kubernetes.io/name", pod.owner)


def mounted_secrets(m: Manifests, pod: Pod) -> set[str]:
    """Names of the Secrets a pod mounts: its volumes, or for an operator's pods the CR's TLS and secrets."""
    names = set()
    for volume in pod.spec.get("volumes") or []:
        if "secret" in volume:
            names.add(volume["secret"]["secretName"])
        for source in (volume.get("projected") or {}).get("sources") or []:
            if "secret" in source:
                names.add(source["secret"]["name"])
    if pod.kind in ("Prometheus", "Alertmanager"):
        cr = m.find(pod.kind, pod.owner.rsplit("/", 1)[1], pod.namespace) or {"spec": {}}
        names |= set(cr["spec"].get("secrets") or [])
        tls = [(cr["spec"].get("web") or {}).get("tlsConfig"), cr["spec"].get("clusterTLS")]
        names |= {secret["name"] for secret in _secret_refs(tls)}
    return names


def _secret_refs(node) -> list[dict]:
    """Every `secret: {name, key}` reference (and `keySecret`) under a CR's TLS settings."""
    if isinstance(node, list):
        return [r for item in node for r in _secret_refs(item)]
    if not isinstance(node, dict):
        return []
    own = [value for key, value in node.items() if key in ("secret", "keySecret") and isinstance(value, dict)
           and "name" in value]
    return own + [r for value in node.values() for r in _secret_refs(value)]


def mounted_certificates(m: Manifests, pod: Pod) -> list[dict]:
    """cert-manager Certificates whose Secret the pod mounts (ECK's own certificates are not among them)."""
    secrets = mounted_secrets(m, pod)
    return [c for c in m.of_kind("Certificate") if c["metadata"].get("namespace") == pod.namespace
            and c["spec"]["secretName"] in secrets]
