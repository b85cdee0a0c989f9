"""The listener inventory: every container port something reaches, and whether it speaks TLS.

A port is in the inventory when a Service targets it (by name or number), a ServiceMonitor or PodMonitor
scrapes it, a NetworkPolicy admits traffic to it, or its pod runs on the host network. Whether it is TLS
is read from the rendered configuration of the pod behind it; the first rule that speaks of the port
decides, and a port no rule speaks of is plain:

1. Prometheus and Alertmanager (the operator's pods): `web` is TLS when the CR has `spec.web.tlsConfig`;
   `reloader-web` too, the operator giving the config reloader the same web config file
   (prometheus-operator v0.93 pkg/prometheus/server/statefulset.go, pkg/alertmanager/statefulset.go:
   configReloaderWebConfigFile). Alertmanager's mesh port (TCP and UDP) is TLS with `spec.clusterTLS`:
   its TLS transport carries gossip over TCP only.
2. Elasticsearch and Kibana (ECK): HTTP is TLS unless `spec.http.tls.selfSignedCertificate.disabled`;
   the transport port always is (ECK configures transport TLS itself).
3. The configuration files a pod mounts from ConfigMaps: dskit's `server.http_tls_config.cert_file`
   (the `server.http_listen_port`) and `server.grpc_tls_config.cert_file` (`grpc_listen_port`);
   `memberlist.tls_enabled` (`memberlist.bind_port`, default 7946; TCP and UDP, dskit's TLS transport
   uses TCP only); Tempo's OTLP receivers (`distributor.receivers.otlp.protocols.<p>.endpoint` with
   `tls.cert_file`); a Fluent Bit input with `port` and `tls on` with `tls.crt_file`; ECK's operator
   `metrics-port` with `metrics-secure: true`.
4. A container's own flags: an exporter-toolkit web config (`--web.config.file`, kube-state-metrics'
   `--tls-config`) whose file, mounted from a rendered ConfigMap or Secret, has
   `tls_server_config.cert_file`; `--web.enable-tls=true`, `--tls-cert-file` or Grafana's
   `GF_SERVER_PROTOCOL=https|h2` (all the container's ports); `--secure-port=<n>` (that port).

A plain port is a problem unless plain_ports.py lists it (component, port, reason).
"""
from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field

import yaml

from stackgen.checks.hosts import component, container_port_name, selected_pods
from stackgen.checks.references import selected_services
from stackgen.checks.tls import config_documents, is_on
from stackgen.manifests import Manifests, Pod, ref, service_backends
from stackgen.plain_ports import PlainPort, exception_problems, is_excepted

Decision = tuple[bool, str]  # (TLS on, the setting that says so)


@dataclass
class Listener:
    component: str
    owner: str
    port_name: str
    port: int
    protocol: str
    tls: bool
    evidence: str
    reached_by: set[str] = field(default_factory=set)


# --- which ports are reached ---------------------------------------------------------------------------

def reached(m: Manifests) -> dict[tuple[str, str], tuple[Pod, set[str]]]:
    """(pod owner, port name) -> (pod, what reaches it)."""
    found: dict[tuple[str, str], tuple[Pod, set[str]]] = {}

    def add(pod: Pod, name: str | None, by: str) -> None:
        if name:
            found.setdefault((pod.owner, name), (pod, set()))[1].add(by)

    for service in m.services():
        for entry in service["spec"]["ports"]:
            for pod in service_backends(m, service):
                add(pod, container_port_name(pod, entry.get("targetPort", entry["port"]), entry.get("protocol", "TCP")),
                    ref(service))
    for monitor in m.of_kind("ServiceMonitor"):
        for service in selected_services(m, monitor)[0]:
            ports = {p.get("name"): p.get("targetPort", p["port"]) for p in service["spec"]["ports"]}
            for endpoint in monitor["spec"]["endpoints"]:
                target = endpoint.get("targetPort", ports.get(endpoint.get("port")))
                for pod in service_backends(m, service):
                    add(pod, container_port_name(pod, target) if target is not None else None, ref(monitor))
    for monitor in m.of_kind("PodMonitor"):
        for pod in selected_pods(m, monitor["metadata"]["namespace"], monitor["spec"]["selector"]):
            for endpoint in monitor["spec"].get("podMetricsEndpoints", []):
                add(pod, container_port_name(pod, endpoint.get("port")), ref(monitor))
    for policy in m.of_kind("NetworkPolicy"):
        for rule in policy["spec"].get("ingress") or []:
            for pod in selected_pods(m, policy["metadata"]["namespace"], policy["spec"].get("podSelector") or {}):
                for port in rule.get("ports") or []:
                    add(pod, container_port_name(pod, port.get("port"), port.get("protocol", "TCP")), ref(policy))
    for pod in m.pods():
        for name in pod.ports if pod.host_network else ():
            add(pod, name, "hostNetwork")
    return found


# --- whether a port is TLS ------------------------------------------------------------------------------

def _operator_cr(m: Manifests, pod: Pod) -> dict[int, Decision]:
    if pod.kind not in ("Prometheus", "Alertmanager"):
        return {}
    spec = (m.find(pod.kind, pod.owner.rsplit("/", 1)[1], pod.namespace) or {"spec": {}})["spec"]
    web = bool((spec.get("web") or {}).get("tlsConfig"))
    decided = {pod.ports[name][0]: (web, f"{pod.kind} spec.web.tlsConfig") for name in ("web", "reloader-web")
               if name in pod.ports}
    if "mesh-tcp" in pod.ports:
        decided[pod.ports["mesh-tcp"][0]] = (bool(spec.get("clusterTLS")), "Alertmanager spec.clusterTLS")
    return decided


def _eck(m: Manifests, pod: Pod) -> dict[int, Decision]:
    if pod.kind not in ("Elasticsearch", "Kibana"):
        return {}
    cr = m.find(pod.kind, pod.owner.split("/")[2], pod.namespace) or {"spec": {}}
    disabled = (((cr["spec"].get("http") or {}).get("tls") or {}).get("selfSignedCertificate") or {}).get("disabled")
    decided = {number: (not disabled, f"{pod.kind} spec.http.tls") for name, (number, _) in pod.ports.items()
               if name != "transport"}
    if "transport" in pod.ports:
        decided[pod.ports["transport"][0]] = (True, "ECK transport TLS (always on)")
    return decided


def _mounted_config_maps(m: Manifests, pod: Pod) -> list[dict]:
    names = {v["configMap"]["name"] for v in pod.spec.get("volumes") or [] if "configMap" in v}
    names |= {s["configMap"]["name"] for v in pod.spec.get("volumes") or []
              for s in (v.get("projected") or {}).get("sources") or [] if "configMap" in s}
    return [c for c in m.of_kind("ConfigMap") if c["metadata"].get("namespace") == pod.namespace
            and c["metadata"]["name"] in names]


def _dig(document, *keys):
    for key in keys:
        document = document.get(key) if isinstance(document, dict) else None
    return document


def _endpoint_port(endpoint) -> int | None:
    match = re.search(r":([0-9]{1,5})$", str(endpoint or ""))
    return int(match.group(1)) if match else None


def _document_decisions(document: dict, where: str) -> dict[int, Decision]:
    """What one configuration file says of the ports it configures (rule 3)."""
    decided: dict[int, Decision] = {}
    server = document.get("server") if isinstance(document.get("server"), dict) else None
    for kind in ("http", "grpc") if server is not None else ():
        if server.get(f"{kind}_listen_port"):
            decided[server[f"{kind}_listen_port"]] = (bool(_dig(server, f"{kind}_tls_config", "cert_file")),
                                                      f"{where}: server.{kind}_tls_config")
    if isinstance(document.get("memberlist"), dict):
        memberlist = document["memberlist"]
        decided[memberlist.get("bind_port", 7946)] = (memberlist.get("tls_enabled") is True,
                                                      f"{where}: memberlist.tls_enabled")
    for protocol, settings in (_dig(document, "distributor", "receivers", "otlp", "protocols") or {}).items():
        if port := _endpoint_port((settings or {}).get("endpoint")):
            decided[port] = (bool(_dig(settings, "tls", "cert_file")), f"{where}: otlp.protocols.{protocol}.tls")
    for i, plugin in enumerate(_dig(document, "pipeline", "inputs") or []):
        if "port" in plugin:
            decided[int(plugin["port"])] = (is_on(plugin.get("tls")) and bool(plugin.get("tls.crt_file")),
                                            f"{where}: pipeline.inputs[{i}] tls")
    if "metrics-port" in document:
        decided[int(document["metrics-port"])] = (document.get("metrics-secure") is True, f"{where}: metrics-secure")
    return decided


def _config_files(m: Manifests, pod: Pod) -> dict[int, Decision]:
    decided: dict[int, Decision] = {}
    for config_map in _mounted_config_maps(m, pod):
        for file_name, document in config_documents(config_map):
            if isinstance(document, dict):
                for port, decision in _document_decisions(document, f"{ref(config_map)} {file_name}").items():
                    decided.setdefault(port, decision)
    return decided


WEB_CONFIG_FLAGS = ("--web.config.file", "--tls-config")


def _flag_values(container: dict) -> dict[str, str]:
    args = [*(container.get("command") or []), *(container.get("args") or [])]
    return {arg.split("=", 1)[0]: arg.split("=", 1)[1] if "=" in arg else "true" for arg in args if arg.startswith("-")}


def _mounted_file(m: Manifests, pod: Pod, container: dict, path: str) -> str | None:
    """The content of a file a container reads, from the rendered ConfigMap or Secret mounted there."""
    volumes = {v["name"]: v for v in pod.spec.get("volumes") or []}
    for mount in container.get("volumeMounts") or []:
        base = mount["mountPath"].rstrip("/")
        key = mount.get("subPath") if path == base and mount.get("subPath") else path.removeprefix(base + "/")
        if key == path or mount["name"] not in volumes:
            continue
        volume = volumes[mount["name"]]
        if "configMap" in volume and (source := m.find("ConfigMap", volume["configMap"]["name"], pod.namespace)):
            return (source.get("data") or {}).get(key)
        if "secret" in volume and (source := m.find("Secret", volume["secret"]["secretName"], pod.namespace)):
            if key in (source.get("stringData") or {}):
                return source["stringData"][key]
            if key in (source.get("data") or {}):
                return base64.b64decode(source["data"][key]).decode()
    return None


def _container_flags(m: Manifests, pod: Pod) -> dict[int, Decision]:
    decided: dict[int, Decision] = {}
    for container in pod.containers:
        flags, ports = _flag_values(container), [p["containerPort"] for p in container.get("ports") or []]
        env = {e["name"]: e.get("value") for e in container.get("env") or []}
        for flag in WEB_CONFIG_FLAGS:
            if flag in flags:
                content = _mounted_file(m, pod, container, flags[flag])
                tls = bool(_dig(yaml.safe_load(content) if content else None, "tls_server_config", "cert_file"))
                decided |= {port: (tls, f"{container['name']} {flag} tls_server_config") for port in ports}
        for flag in ("--web.enable-tls", "--tls-cert-file"):
            if flag in flags:
                decided |= {port: (is_on(flags[flag]) or flag == "--tls-cert-file", f"{container['name']} {flag}")
                            for port in ports}
        if str(env.get("GF_SERVER_PROTOCOL", "")).lower() in ("https", "h2"):
            decided |= {port: (True, f"{container['name']} GF_SERVER_PROTOCOL") for port in ports}
        if "--secure-port" in flags:
            decided[int(flags["--secure-port"])] = (True, f"{container['name']} --secure-port")
    return decided


DECIDERS = (_operator_cr, _eck, _config_files, _container_flags)


def decisions(m: Manifests, pod: Pod) -> dict[int, Decision]:
    """Port number -> (TLS on, the setting that says so), the first rule speaking of a port deciding."""
    decided: dict[int, Decision] = {}
    for decider in DECIDERS:
        for port, decision in decider(m, pod).items():
            decided.setdefault(port, decision)
    return decided


# --- the inventory and its check ------------------------------------------------------------------------

def inventory(m: Manifests) -> list[Listener]:
    listeners, decided = [], {}
    for (owner, name), (pod, by) in sorted(reached(m).items()):
        number, protocol = pod.ports[name]
        decided.setdefault(owner, decisions(m, pod))
        tls, evidence = decided[owner].get(number, (False, "no TLS setting for this port"))
        listeners.append(Listener(component(pod), owner, name, number, protocol, tls, evidence, by))
    return listeners


def plain_listeners(m: Manifests, exceptions: tuple[PlainPort, ...] | None = None) -> list[Listener]:
    """Plain listeners no exception excuses."""
    return [e for e in inventory(m) if not e.tls and not is_excepted(e.component, e.port_name, exceptions)]


def listener_problems(m: Manifests, exceptions: tuple[PlainPort, ...] | None = None) -> list[str]:
    return exception_problems(exceptions) + [
        f"{e.owner}: port {e.port_name} ({e.port}/{e.protocol}) is plain ({e.evidence}), reached by "
        f"{', '.join(sorted(e.reached_by))}; serve TLS on it, or add ({e.component!r}, {e.port_name!r}, reason) "
        "to stackgen/plain_ports.py" for e in plain_listeners(m, exceptions)]


def check_listeners(m: Manifests) -> list[str]:
    return listener_problems(m)


def markdown(m: Manifests) -> str:
    rows = [f"| {e.component} | {e.owner} | {e.port_name} | {e.port}/{e.protocol} | "
            f"{'TLS' if e.tls else 'plain (excepted)' if is_excepted(e.component, e.port_name) else 'PLAIN'} | "
            f"{e.evidence} | {', '.join(sorted(e.reached_by))} |" for e in inventory(m)]
    header = ["| Component | Pods | Port | Number | TLS | Decided by | Reached by |", "|---|---|---|---|---|---|---|"]
    return "\n".join(header + rows) + "\n"
