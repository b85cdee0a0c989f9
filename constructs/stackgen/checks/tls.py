"""TLS clients as rendered: no plain connection to a stack's Service, and every TLS client verifies.

`validate` refuses
- an `http://` URL whose host is a rendered Service (checks/hosts.py says which names are), anywhere in a
  rendered object or a configuration file it carries, and a Fluent Bit output to one without `tls on`,
  unless the port it reaches is a declared plain port (plain_ports.py);
- a TLS client without the CA it verifies with: a ServiceMonitor/PodMonitor endpoint or a Prometheus
  remote write/Alertmanager endpoint with `https` but no `tlsConfig.ca`/`caFile`; a Grafana datasource
  with an `https://` URL but no `tlsAuthWithCACert` + `tlsCACert`; a Fluent Bit output with `tls on` but
  no `tls.ca_file` or without `tls.verify_hostname on` (its default is off: the certificate's name is not
  checked; docs.fluentbit.io/manual/administration/transport-security); a dskit client block
  (Loki, Tempo, Mimir) with `tls_enabled: true` but no `tls_ca_path`; an https scrape or Alertmanager
  endpoint of rendered pods without `tlsConfig.serverName` (Prometheus dials the pod IP);
- verification turned off anywhere: `insecureSkipVerify`, `insecure_skip_verify`,
  `tls_insecure_skip_verify`, Grafana's `tlsSkipVerify` true, Fluent Bit's `tls.verify off`.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass

import yaml

from stackgen.checks.forms import leaves
from stackgen.checks.hosts import (
    Target,
    component,
    container_port_name,
    resolve_host,
    selected_pods,
    service_port_target,
)
from stackgen.checks.references import selected_services
from stackgen.manifests import Manifests, Pod, ref, service_backends
from stackgen.plain_ports import UNVERIFIED_CLIENTS, is_excepted

SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
PLAIN_URL = re.compile(r"\bhttp://([a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)(?::([0-9]{1,5}))?", re.IGNORECASE)
INSECURE_KEYS = {"insecureSkipVerify", "insecure_skip_verify", "tls_insecure_skip_verify", "tlsSkipVerify"}


@dataclass(frozen=True)
class Client:
    """One TLS-capable client setting: where it is, what it dials, and how it verifies."""
    where: str                    # the object (and file) holding it
    key: str                      # its path in there
    namespace: str                # the client's namespace (short host names resolve in it)
    host: str | None              # the host it dials; None when a selector chooses its targets
    server_name: str | None       # the name it verifies when not the host (serverName, tls.vhost, ...)
    tls: bool
    has_ca: bool
    set_ca: str                   # what to set for the CA, for the message
    targets: tuple[Pod, ...] | None = None  # the pods it reaches, when a selector chooses them
    # Prometheus reaches scrape targets and Alertmanagers through endpoints discovery: by pod IP, which no
    # certificate of theirs names, so only serverName can make the name check pass.
    dials_pod_ips: bool = False

    @property
    def verified_name(self) -> str | None:
        return self.server_name or self.host


def config_documents(obj: dict) -> list[tuple[str, object]]:
    """(file name, parsed content) of each YAML or JSON file of a ConfigMap; nothing for other objects."""
    if obj["kind"] != "ConfigMap":
        return []
    return [(name, _parsed(name, content)) for name, content in sorted((obj.get("data") or {}).items())
            if name.endswith((".yaml", ".yml", ".json"))]


@functools.lru_cache(maxsize=1024)
def _parsed(name: str, content: str):
    """Parsed once: every TLS check reads the same files (the results are only read)."""
    return json.loads(content) if name.endswith(".json") else yaml.load(content, Loader=SafeLoader)


def is_on(value) -> bool:
    """A boolean as Fluent Bit and YAML write it (on, true, yes)."""
    return str(value).lower() in ("on", "true", "yes", "1")


def _namespace(obj: dict) -> str:
    return obj["metadata"].get("namespace", "")


def _has_ca(tls_config: dict | None) -> bool:
    """A Prometheus Operator SafeTLSConfig/TLSConfig with a CA (a Secret or ConfigMap key, or a file)."""
    tls_config = tls_config or {}
    return bool(tls_config.get("caFile") or (tls_config.get("ca") or {}).get("secret")
                or (tls_config.get("ca") or {}).get("configMap"))


def monitor_clients(m: Manifests) -> list[Client]:
    clients = []
    for monitor in m.of_kind("ServiceMonitor", "PodMonitor"):
        if monitor["kind"] == "ServiceMonitor":
            endpoints, key = monitor["spec"]["endpoints"], "spec.endpoints"
            pods = tuple(p for s in selected_services(m, monitor)[0] for p in service_backends(m, s))
        else:
            endpoints, key = monitor["spec"].get("podMetricsEndpoints", []), "spec.podMetricsEndpoints"
            pods = tuple(selected_pods(m, _namespace(monitor), monitor["spec"]["selector"]))
        for i, endpoint in enumerate(endpoints):
            tls_config = endpoint.get("tlsConfig") or {}
            clients.append(Client(ref(monitor), f"{key}[{i}] (port {endpoint.get('port')})", _namespace(monitor),
                                  None, tls_config.get("serverName"), str(endpoint.get("scheme", "")).lower() == "https",
                                  _has_ca(tls_config), "tlsConfig.ca (the target's Secret, key ca.crt)", pods,
                                  dials_pod_ips=True))
    return clients


def prometheus_clients(m: Manifests) -> list[Client]:
    clients = []
    for prometheus in m.of_kind("Prometheus"):
        spec, namespace = prometheus["spec"], _namespace(prometheus)
        for i, write in enumerate(spec.get("remoteWrite") or []):
            tls_config = write.get("tlsConfig") or {}
            clients.append(Client(ref(prometheus), f"spec.remoteWrite[{i}].url", namespace, _url_host(write["url"]),
                                  tls_config.get("serverName"), write["url"].startswith("https://"),
                                  _has_ca(tls_config), "spec.remoteWrite[].tlsConfig.ca"))
        for i, endpoint in enumerate((spec.get("alerting") or {}).get("alertmanagers") or []):
            tls_config = endpoint.get("tlsConfig") or {}
            target = resolve_host(m, f"{endpoint['name']}.{endpoint.get('namespace', namespace)}", namespace)
            clients.append(Client(ref(prometheus), f"spec.alerting.alertmanagers[{i}]", namespace, None,
                                  tls_config.get("serverName"), str(endpoint.get("scheme", "")).lower() == "https",
                                  _has_ca(tls_config), "spec.alerting.alertmanagers[].tlsConfig.ca",
                                  target.pods if target else (), dials_pod_ips=True))
    return clients


def _url_host(url: str) -> str | None:
    match = re.match(r"^[a-z]+://([^/:?#]+)", url, re.IGNORECASE)
    return match.group(1) if match else None


def grafana_clients(m: Manifests) -> list[Client]:
    clients = []
    for config_map in m.of_kind("ConfigMap"):
        for file_name, document in config_documents(config_map):
            for source in (document or {}).get("datasources", []) if isinstance(document, dict) else []:
                if "url" not in source:
                    continue
                json_data, secure = source.get("jsonData") or {}, source.get("secureJsonData") or {}
                clients.append(Client(f"{ref(config_map)} {file_name}", f"datasources[{source.get('name')}].url",
                                      _namespace(config_map), _url_host(source["url"]), json_data.get("serverName"),
                                      source["url"].startswith("https://"),
                                      bool(json_data.get("tlsAuthWithCACert") and secure.get("tlsCACert")),
                                      "jsonData.tlsAuthWithCACert: true and secureJsonData.tlsCACert"))
    return clients


def fluent_bit_outputs(m: Manifests):
    """(config map, file name, index, output) of every Fluent Bit output with a host."""
    for config_map in m.of_kind("ConfigMap"):
        for file_name, document in config_documents(config_map):
            pipeline = document.get("pipeline") if isinstance(document, dict) else None
            for i, output in enumerate((pipeline or {}).get("outputs") or []):
                if isinstance(output.get("host"), str):
                    yield config_map, file_name, i, output


def fluent_bit_clients(m: Manifests) -> list[Client]:
    return [Client(f"{ref(config_map)} {file_name}", f"pipeline.outputs[{i}] ({output.get('name')})",
                   _namespace(config_map), output["host"], output.get("tls.vhost"), is_on(output.get("tls")),
                   bool(output.get("tls.ca_file")), "tls.ca_file")
            for config_map, file_name, i, output in fluent_bit_outputs(m)]


def dskit_clients(m: Manifests) -> list[Client]:
    """dskit's TLS client blocks (gRPC clients, memberlist): `tls_enabled` with `tls_ca_path`."""
    clients = []
    for config_map in m.of_kind("ConfigMap"):
        for file_name, document in config_documents(config_map):
            for path, block in _blocks(document):
                if block.get("tls_enabled") is True:
                    clients.append(Client(f"{ref(config_map)} {file_name}", f"{path}.tls_enabled",
                                          _namespace(config_map), None, block.get("tls_server_name"), True,
                                          bool(block.get("tls_ca_path")), f"{path}.tls_ca_path"))
    return clients


def _blocks(node, path: str = ""):
    """(dotted path, mapping) of every mapping in a parsed document."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _blocks(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _blocks(item, f"{path}[{i}]")


def tls_clients(m: Manifests) -> list[Client]:
    return monitor_clients(m) + prometheus_clients(m) + grafana_clients(m) + fluent_bit_clients(m) + dskit_clients(m)


def reached_ports(target: Target, port: int) -> list[tuple[str, str]]:
    """(component, container port name) of each pod behind the Service port numbered `port`."""
    found = service_port_target(target.service, port)
    if found is None:
        return []
    return [(component(pod), name) for pod in target.pods if (name := container_port_name(pod, *found))]


def _excepted(target: Target, port: int) -> bool:
    reached = reached_ports(target, port)
    return bool(reached) and all(is_excepted(*pair) for pair in reached)


def plain_url_problems(m: Manifests) -> list[str]:
    problems = []
    for obj in m.objects:
        for where, path, value in _strings(obj):
            for match in PLAIN_URL.finditer(value):
                target = resolve_host(m, match.group(1), _namespace(obj))
                port = int(match.group(2) or 80)
                if target and not _excepted(target, port):
                    problems.append(f"{where}: {path}: {match.group(0)} is plain HTTP to {target.where}; use "
                                    "https:// and the CA (or declare the port in plain_ports.py with its reason)")
    for config_map, file_name, i, output in fluent_bit_outputs(m):
        target = resolve_host(m, output["host"], _namespace(config_map))
        if target and not is_on(output.get("tls")) and not _excepted(target, int(output.get("port", 0))):
            problems.append(f"{ref(config_map)} {file_name}: pipeline.outputs[{i}] ({output.get('name')}): "
                            f"plain connection to {target.where}; set tls: on, tls.ca_file and tls.verify_hostname: on")
    return problems


def _strings(obj: dict):
    """(where, path, text) of every string in an object, inside its configuration files where they parse."""
    parsed = dict(config_documents(obj))
    for path, value in leaves(obj):
        if isinstance(value, str) and path.removeprefix("data.") not in parsed:
            yield ref(obj), path, value
    for file_name, document in parsed.items():
        for path, value in leaves(document):
            if isinstance(value, str):
                yield f"{ref(obj)} {file_name}", path, value


def _settings(obj: dict):
    """(where, path, key, value) of every scalar, inside configuration files too."""
    for where, path, value in [(ref(obj), p, v) for p, v in leaves(obj)] + [
            (f"{ref(obj)} {name}", p, v) for name, document in config_documents(obj) for p, v in leaves(document)]:
        yield where, path, path.removesuffix("[]").rsplit(".", 1)[-1], value


def verification_off_problems(m: Manifests) -> list[str]:
    problems = []
    for obj in m.objects:
        if f"{obj['kind']}/{obj['metadata']['name']}" in UNVERIFIED_CLIENTS:
            continue
        for where, path, key, value in _settings(obj):
            if key in INSECURE_KEYS and value is True:
                problems.append(f"{where}: {path}: certificate verification is off; remove it and verify with the CA")
    # Fluent Bit's keys contain dots (`tls.verify`), so they are read from each output itself.
    problems += [f"{ref(config_map)} {file_name}: pipeline.outputs[{i}] ({output.get('name')}): tls.verify "
                 f"{output['tls.verify']}: certificate verification is off; set tls.verify: on with tls.ca_file"
                 for config_map, file_name, i, output in fluent_bit_outputs(m)
                 if "tls.verify" in output and not is_on(output["tls.verify"])]
    return problems


def missing_ca_problems(m: Manifests) -> list[str]:
    clients = tls_clients(m)
    problems = [f"{c.where}: {c.key}: TLS without a CA to verify the server; set {c.set_ca}"
                for c in clients if c.tls and not c.has_ca]
    problems += [f"{ref(config_map)} {file_name}: pipeline.outputs[{i}] ({output.get('name')}): tls on does not "
                 "check the certificate's name (tls.verify_hostname defaults to off); set tls.verify_hostname: on"
                 for config_map, file_name, i, output in fluent_bit_outputs(m)
                 if is_on(output.get("tls")) and not is_on(output.get("tls.verify_hostname"))]
    problems += [f"{c.where}: {c.key}: https to pod IPs without tlsConfig.serverName; set it to a name the "
                 "target's Certificate carries" for c in clients if c.tls and c.dials_pod_ips and c.targets
                 and not c.server_name]
    return problems


def check_tls_clients(m: Manifests) -> list[str]:
    return plain_url_problems(m) + verification_off_problems(m) + missing_ca_problems(m)
